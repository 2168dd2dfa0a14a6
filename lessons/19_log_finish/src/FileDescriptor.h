#pragma once

// Owns one file descriptor and closes it exactly once: the owner of every raw fd the library opens
// (the epoll instance here; a signalfd, an eventfd and a timerfd in later lessons). As a member it
// also closes the fd when a later step of its owner's constructor throws, which an int member
// followed by a close() in the owner's destructor does not: a destructor runs only for an object
// whose constructor finished.

#include <unistd.h>

#include <utility>

#include "noncopyable.h"

class FileDescriptor : noncopyable {
 public:
  FileDescriptor() noexcept = default;
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}  // takes ownership; -1 means none
  ~FileDescriptor() { reset(); }
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // Closes the fd held, if any, and owns `fd` instead.
  void reset(int fd = -1) noexcept {
    // close() is not retried on EINTR: on Linux the fd is released whatever it returns.
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  // Gives the fd up without closing it.
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};
