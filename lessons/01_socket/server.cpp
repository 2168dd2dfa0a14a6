// Lesson 1: a blocking, iterative echo server.
//
// It accepts one client, echoes everything that client sends until it disconnects, and only then
// accepts the next one. Every call blocks, so while one client is connected the others wait in the
// kernel's accept queue: the limitation that lesson 2 removes.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <string>

#include "Options.h"
#include "Util.h"

namespace {

const char kUsage[] =
    "usage: server [--host ADDR] [--port N]\n"
    "  --host ADDR  IPv4 address to listen on (default 127.0.0.1)\n"
    "  --port N     port to listen on, 0 lets the kernel choose (default 9877)\n";

int listenOn(const Options& options) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

// Copies everything the client sends back to it, until the client closes or the connection fails.
void echo(int fd, const std::string& peer) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) return;  // the client closed its side (FIN): nothing more will come
    if (n < 0) {
      if (errno == EINTR) continue;
      warn("read from " + peer);  // e.g. ECONNRESET: the client reset the connection
      return;
    }
    if (!writeAll(fd, buffer, static_cast<size_t>(n))) {
      warn("write to " + peer);  // e.g. EPIPE: the client is gone
      return;
    }
  }
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
  std::printf("listening on %s\n", toIpPort(local).c_str());  // the real port, also for --port 0

  for (;;) {
    sockaddr_in peerAddr{};
    socklen_t peerLength = sizeof peerAddr;
    const int connFd =
        ::accept4(listenFd, reinterpret_cast<sockaddr*>(&peerAddr), &peerLength, SOCK_CLOEXEC);
    if (connFd < 0) {
      // A failed accept concerns one connection (it was reset while queued, we are out of file
      // descriptors, ...), not the server: report it and go on.
      if (errno != EINTR) warn("accept");
      continue;
    }
    const std::string peer = toIpPort(peerAddr);
    std::printf("accepted %s\n", peer.c_str());
    echo(connFd, peer);  // blocks until this client is done: nobody else is served meanwhile
    ::close(connFd);
    std::printf("closed %s\n", peer.c_str());
  }
}
