#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include "Catch.h"
#include "noncopyable.h"

// Two connected non-blocking sockets, the simplest fds that become readable on demand; closes both.
struct SocketPair : noncopyable {
  int fds[2] = {-1, -1};
  SocketPair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0); }
  ~SocketPair() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  void sendByte() { REQUIRE(::write(fds[1], "x", 1) == 1); }
};
