#pragma once

// Hands values from other threads to the loop thread. Only the loop thread may touch the loop's
// objects (a connection, its buffers, the server's map): a worker that finished a task must not
// call send() itself. It pushes its result here instead, from any thread; an eventfd, watched by a
// Channel like any socket, wakes the loop up, and the loop takes every result pushed so far in one
// go and delivers each, in the loop thread.
//
// Lesson 12 makes this mechanism part of EventLoop itself (runInLoop/queueInLoop), for any
// function, not just for one kind of value.

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <mutex>
#include <system_error>
#include <utility>
#include <vector>

#include "Channel.h"
#include "FileDescriptor.h"
#include "noncopyable.h"

class EventLoop;

template <typename T>
class ResultQueue : noncopyable {
 public:
  using Deliver = std::function<void(T&& value)>;

  // `deliver` runs in the loop thread, once per value pushed. Throws std::system_error if the
  // eventfd cannot be made or watched.
  ResultQueue(EventLoop* loop, Deliver deliver)
      : eventFd_(createEventFd()), channel_(loop, eventFd_.get()), deliver_(std::move(deliver)) {
    channel_.setReadCallback([this] { handleRead(); });
    channel_.enableReading();
  }

  // From any thread. Wakes the loop only when the queue was empty: one eventfd write per batch,
  // however many values join it before the loop comes to take them.
  void push(T value) {
    bool wasEmpty;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      wasEmpty = values_.empty();
      values_.push_back(std::move(value));
    }
    if (wasEmpty) wakeUp();
  }

 private:
  static int createEventFd() {
    const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    return fd;
  }

  void wakeUp() {
    const uint64_t one = 1;
    // Cannot fail: only a counter about to pass 2^64 - 2 would, and every read resets it.
    const ssize_t n = ::write(eventFd_.get(), &one, sizeof one);
    (void)n;
  }

  void handleRead() {
    uint64_t count;
    const ssize_t n = ::read(eventFd_.get(), &count, sizeof count);  // resets the counter to 0
    (void)n;  // EAGAIN (nothing to read) is harmless: the queue below says what to deliver
    std::vector<T> values;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      values.swap(values_);  // deliver without the lock: deliver_ may take its time
    }
    for (T& value : values) deliver_(std::move(value));
  }

  // In this order: the Channel leaves the poller before the fd is closed.
  FileDescriptor eventFd_;
  Channel channel_;
  Deliver deliver_;
  std::mutex mutex_;
  std::vector<T> values_;  // guarded by mutex_
};
