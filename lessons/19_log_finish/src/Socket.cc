#include "Socket.h"

#include <netinet/tcp.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace {

[[noreturn]] void throwErrno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void setOption(int fd, int level, int option, bool on, const char* name) {
  const int value = on ? 1 : 0;
  if (::setsockopt(fd, level, option, &value, sizeof value) < 0) {
    throwErrno(std::string("setsockopt(") + name + ")");
  }
}

}  // namespace

Socket Socket::createNonBlocking() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throwErrno("socket");
  return Socket(fd);
}

void Socket::bindAddress(const InetAddress& addr) {
  if (::bind(fd_.get(), addr.getSockAddr(), InetAddress::length()) < 0) {
    throwErrno("bind " + addr.toIpPort());
  }
}

void Socket::listen() {
  if (::listen(fd_.get(), SOMAXCONN) < 0) throwErrno("listen");
}

Socket Socket::accept(InetAddress* peer) {
  sockaddr_in addr{};
  socklen_t length = sizeof addr;
  const int connFd = ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &length,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (connFd >= 0) *peer = InetAddress(addr);
  return Socket(connFd);
}

InetAddress Socket::localAddress() const {
  sockaddr_in addr{};
  socklen_t length = sizeof addr;
  if (::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &length) < 0)
    throwErrno("getsockname");
  return InetAddress(addr);
}

bool Socket::shutdownWrite() { return ::shutdown(fd_.get(), SHUT_WR) == 0; }

// Without SO_REUSEADDR a restarted server cannot bind its port while connections of the previous
// run are still in TIME_WAIT.
void Socket::setReuseAddr(bool on) {
  setOption(fd_.get(), SOL_SOCKET, SO_REUSEADDR, on, "SO_REUSEADDR");
}

// Nagle's algorithm holds back small writes while earlier data is unacknowledged: good for bulk
// transfer, bad for request/response latency.
void Socket::setTcpNoDelay(bool on) {
  setOption(fd_.get(), IPPROTO_TCP, TCP_NODELAY, on, "TCP_NODELAY");
}
