#pragma once

// Owns one socket and closes it exactly once (a FileDescriptor does that). Movable (the fd changes
// owner), never copyable. Setup calls (socket, bind, listen) throw std::system_error naming the
// call, since a server cannot go on without them; per-connection calls (accept) report failure
// through errno.

#include "FileDescriptor.h"
#include "InetAddress.h"

class Socket {
 public:
  explicit Socket(int fd) noexcept : fd_(fd) {}

  // A non-blocking, close-on-exec TCP socket.
  static Socket createNonBlocking();

  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }

  void bindAddress(const InetAddress& addr);
  void listen();
  // Takes one connection from the accept queue, non-blocking and close-on-exec, and stores the
  // peer's address in *peer. Returns an invalid Socket when there is none (EAGAIN) or accept
  // failed; errno says which.
  Socket accept(InetAddress* peer);

  InetAddress localAddress() const;
  // Half-close: no more data from us (the peer reads end of stream), but we can still receive.
  // Returns false with errno set if the connection is already gone (ENOTCONN).
  bool shutdownWrite();
  void setReuseAddr(bool on);
  void setTcpNoDelay(bool on);

 private:
  FileDescriptor fd_;
};
