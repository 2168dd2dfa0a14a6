// Lesson 3: a non-blocking echo server with one epoll loop in one thread.
//
// Instead of a thread blocked in read() per client, one thread asks the kernel which sockets are
// ready (epoll_wait) and serves only those. Every socket is non-blocking, so no call can stall the
// loop. Thousands of clients cost a few hundred bytes of kernel state each, not a thread.
//
// The limitation kept here on purpose: when a client does not read its echo fast enough, the
// socket's send buffer fills, write() takes only part of the data, and the rest is dropped (and
// reported). Keeping it needs an output buffer per connection and waiting for EPOLLOUT: lessons 8
// and 10.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "Options.h"
#include "Util.h"

namespace {

const char kUsage[] =
    "usage: server [--host ADDR] [--port N]\n"
    "  --host ADDR  IPv4 address to listen on (default 127.0.0.1)\n"
    "  --port N     port to listen on, 0 lets the kernel choose (default 9877)\n";

int listenOn(const Options& options) {
  // Non-blocking: accept() on an empty queue must return EAGAIN, not wait.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");

  // Without SO_REUSEADDR a restarted server cannot bind its port while connections of the previous
  // run are still in TIME_WAIT.
  const int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0)
    die("setsockopt(SO_REUSEADDR)");

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.port);
  ::inet_pton(AF_INET, options.host.c_str(), &addr.sin_addr);  // parseOptions checked the address
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0) {
    die("bind " + options.host + ":" + std::to_string(options.port));
  }
  if (::listen(fd, SOMAXCONN) < 0) die("listen");
  return fd;
}

// Level-triggered (the default, no EPOLLET): epoll_wait reports a socket for as long as it has
// unread data, so one read() per wake-up is enough and a busy client cannot starve the others.
// Edge-triggered would report it once per arrival and oblige us to read until EAGAIN every time.
// Returns false with errno set if the kernel refuses (e.g. ENOSPC: too many watched fds).
bool watch(int epollFd, int fd) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = fd;
  return ::epoll_ctl(epollFd, EPOLL_CTL_ADD, fd, &event) == 0;
}

// Takes every connection waiting in the accept queue.
void acceptAll(int epollFd, int listenFd, std::unordered_map<int, std::string>* clients) {
  for (;;) {
    sockaddr_in peerAddr{};
    socklen_t peerLength = sizeof peerAddr;
    const int connFd = ::accept4(listenFd, reinterpret_cast<sockaddr*>(&peerAddr), &peerLength,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (connFd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // the queue is empty
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // Out of file descriptors, for instance: report it and come back at the next wake-up.
      warn("accept");
      return;
    }
    const std::string peer = toIpPort(peerAddr);
    if (!watch(epollFd, connFd)) {
      warn("epoll_ctl(ADD) for " + peer);  // this client cannot be served; the others can
      ::close(connFd);
      continue;
    }
    (*clients)[connFd] = peer;
    std::printf("accepted %s (%zu clients)\n", peer.c_str(), clients->size());
  }
}

// One read, one write. Returns false when the connection is over and must be closed.
bool echoOnce(int fd, const std::string& peer) {
  char buffer[65536];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n == 0) return false;  // the client closed its side (FIN)
  if (n < 0) {
    // EAGAIN: nothing to read after all; EINTR: a signal came first. Retry at the next wake-up.
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
    warn("read from " + peer);  // e.g. ECONNRESET
    return false;
  }
  const ssize_t written = ::write(fd, buffer, static_cast<size_t>(n));
  if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    warn("write to " + peer);  // e.g. EPIPE: the client is gone
    return false;
  }
  const ssize_t sent = written < 0 ? 0 : written;
  if (sent < n) {
    // The send buffer is full: the client reads slower than it writes. Waiting would stall every
    // other client, and there is nowhere to keep the rest yet: it is lost (lesson 10 keeps it).
    std::fprintf(stderr, "dropped %zd bytes for %s: its send buffer is full\n", n - sent,
                 peer.c_str());
  }
  return true;
}

}  // namespace

int main(int argc, char* argv[]) {
  const Options options = parseCommandLine(argc, argv, kUsage);

  // Writing to a connection the peer has reset raises SIGPIPE, whose default action kills the whole
  // server. Ignored, the write fails with EPIPE instead and we drop just that connection.
  std::signal(SIGPIPE, SIG_IGN);
  // Line-buffered even when stdout is a file or a pipe, so that every line shows up when printed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  const int listenFd = listenOn(options);
  sockaddr_in local{};
  socklen_t length = sizeof local;
  if (::getsockname(listenFd, reinterpret_cast<sockaddr*>(&local), &length) < 0) die("getsockname");

  const int epollFd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epollFd < 0) die("epoll_create1");
  if (!watch(epollFd, listenFd)) die("epoll_ctl(ADD)");
  std::printf("listening on %s\n", toIpPort(local).c_str());  // the real port, also for --port 0

  std::unordered_map<int, std::string> clients;  // connected socket -> the peer's address, for logs
  std::vector<epoll_event> events(1024);
  for (;;) {
    const int ready = ::epoll_wait(epollFd, events.data(), static_cast<int>(events.size()), -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < ready; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listenFd) {
        acceptAll(epollFd, listenFd, &clients);
        continue;
      }
      const std::string& peer = clients[fd];
      // EPOLLHUP and EPOLLERR need no branch: the read returns what is left, then 0 or the error.
      if (!echoOnce(fd, peer)) {
        std::printf("closed %s (%zu clients)\n", peer.c_str(), clients.size() - 1);
        ::epoll_ctl(epollFd, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        clients.erase(fd);
      }
    }
  }
}
