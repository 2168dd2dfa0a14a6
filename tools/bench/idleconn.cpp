// Idle-connection load generator: opens N TCP connections to a server as fast as it can, holds
// them, checks one echo on each when asked, and closes them all.
//
// Driven by tools/bench/idle-bench through stdin, one command a line, answering on stdout:
//   (start)   connects at once; prints `start monotonic=<CLOCK_MONOTONIC seconds>` first, then
//             `connected ok=N failed=F seconds=S sources=K` when every connect has finished
//   echo      sends 4 bytes on every connection, waits for all of them back, checks them; prints
//             `echoed ok=N failed=F seconds=S`
//   close     (or end of input) closes every connection and exits
// Every wait is bounded (--timeout), and so is the whole run (--hold: it exits by itself after it).
//
// Local ports: one source address has about 28,000 (ip_local_port_range), but connect() prefers
// half of them (even ports; bind() gets the odd ones), and once that half is mostly taken every
// connect() scans it: 19,900 connections from 127.0.0.1 took 5.7 s here, against 0.25 s for 10,000.
// So up to about half the range the connections come from 127.0.0.1; beyond it, or with --sources
// K, they are spread over 127.0.0.2 .. 127.0.0.(K+1), all loopback.
//
//   idleconn --port P [--host 127.0.0.1] [--connections 10000] [--sources 0] [--timeout 30]
//            [--hold 300]

#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli.h"
#include "sockets.h"

namespace {

struct Options {
  ServerAddress server;
  int connections = 10000;
  int sources = 0;  // 0: one source address when the local port range suffices, else as needed
  double timeout = 30;
  double hold = 300;
};

const Program kProgram("idleconn");

Options parseOptions(int argc, char* argv[]) {
  Options o;
  parseCommandLine(kProgram, argc, argv, &o.server,
                   {{"--connections", "N", &o.connections, 1, 1000000},
                    {"--sources", "K", &o.sources, 0, 250},
                    {"--timeout", "S", &o.timeout, 0.1, 3600},
                    {"--hold", "S", &o.hold, 1, 3600}});
  return o;
}

struct Conn {
  int fd = -1;
  bool connected = false;
  bool failed = false;
  uint32_t echoed = 0;  // bytes of the 4-byte echo received
  unsigned char echo[4] = {};
};

std::vector<Conn> conns;
int failedConnects = 0;
int sourcesUsed = 0;  // 0: all from the default source address (127.0.0.1)

// Hands each event of `epoll` to `handle`, which says whether its connection is finished (it then
// leaves `epoll`), until `pending` connections have finished or `timeout` seconds have passed.
// Returns how many were still pending then.
template <typename Handle>
int waitForAll(Epoll* epoll, int pending, double timeout, Handle handle) {
  std::vector<epoll_event> events(1024);
  const double deadline = now() + timeout;
  while (pending > 0 && now() < deadline) {
    const int n = epoll->wait(&events, 100);  // the timeout bounds how late the deadline is seen
    for (int k = 0; k < n; ++k) {
      Conn& c = conns[events[k].data.u32];
      if (handle(c)) {
        epoll->remove(c.fd);
        --pending;
      }
    }
  }
  return pending;
}

void connectFailed(Conn* c, int error) {
  // The first failure says why; thousands more lines would only repeat it.
  if (failedConnects == 0) std::fprintf(stderr, "idleconn: connect: %s\n", std::strerror(error));
  c->failed = true;
  ++failedConnects;
}

// Starts every connect without waiting (non-blocking), then collects the results with epoll.
void connectAll(const Options& o) {
  const int sources = sourceAddresses(o.sources, o.connections);
  sourcesUsed = sources;

  Epoll epoll(kProgram);
  conns.resize(static_cast<size_t>(o.connections));
  int pending = 0;
  for (int i = 0; i < o.connections; ++i) {
    Conn& c = conns[static_cast<size_t>(i)];
    c.fd = tcpSocket(kProgram, SOCK_NONBLOCK, "connection " + std::to_string(i));
    bindSource(kProgram, c.fd, i, sources);
    const sockaddr_in& server = o.server.address;
    const int rc = ::connect(c.fd, reinterpret_cast<const sockaddr*>(&server), sizeof server);
    if (rc == 0) {
      c.connected = true;
    } else if (errno == EINPROGRESS) {
      epoll.add(c.fd, EPOLLOUT, static_cast<uint32_t>(i));
      ++pending;
    } else {
      connectFailed(&c, errno);
    }
  }

  // Still not connected at the deadline: failed too.
  failedConnects += waitForAll(&epoll, pending, o.timeout, [](Conn& c) {
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error == 0) {
      c.connected = true;
    } else {
      connectFailed(&c, error);
    }
    return true;
  });
}

// Sends 4 bytes (the connection's index) on every connected socket, and waits for them back.
void echoAll(const Options& o, int* ok, int* failed) {
  Epoll epoll(kProgram);
  int pending = 0;
  *ok = 0;
  *failed = 0;
  for (size_t i = 0; i < conns.size(); ++i) {
    Conn& c = conns[i];
    if (!c.connected) continue;
    const uint32_t tag = static_cast<uint32_t>(i);
    std::memcpy(c.echo, &tag, sizeof tag);
    c.echoed = 0;
    // 4 bytes always fit an idle socket's empty send buffer.
    if (::write(c.fd, c.echo, sizeof c.echo) != static_cast<ssize_t>(sizeof c.echo)) {
      ++*failed;
      continue;
    }
    epoll.add(c.fd, EPOLLIN, tag);
    ++pending;
  }
  // No (whole) echo by the deadline: failed too.
  *failed += waitForAll(&epoll, pending, o.timeout, [ok, failed](Conn& c) {
    unsigned char got[4];
    const ssize_t r = ::read(c.fd, got, sizeof got - c.echoed);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return false;
    if (r <= 0 || std::memcmp(got, c.echo + c.echoed, static_cast<size_t>(r)) != 0) {
      ++*failed;  // closed, reset, or a wrong byte
      return true;
    }
    c.echoed += static_cast<uint32_t>(r);
    if (c.echoed < sizeof c.echo) return false;
    ++*ok;
    return true;
  });
}

// Reads one command from stdin, waiting at most until `deadline`. Returns "" at end of input.
std::string readCommand(double deadline) {
  std::string line;
  for (;;) {
    const double left = deadline - now();
    if (left <= 0) return "";
    pollfd p{0, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left * 1000) + 1) <= 0) continue;
    char c;
    const ssize_t n = ::read(0, &c, 1);
    if (n <= 0) return "";
    if (c == '\n') return line;
    line += c;
  }
}

}  // namespace

int main(int argc, char* argv[]) {
  const Options o = parseOptions(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const double holdUntil = now() + o.hold;

  const double start = now();
  std::printf("start monotonic=%.6f\n", start);
  connectAll(o);
  const int ok = o.connections - failedConnects;
  std::printf("connected ok=%d failed=%d seconds=%.3f sources=%d\n", ok, failedConnects,
              now() - start, sourcesUsed);

  for (;;) {
    const std::string command = readCommand(holdUntil);
    if (command == "echo") {
      const double t = now();
      int echoed = 0, failed = 0;
      echoAll(o, &echoed, &failed);
      std::printf("echoed ok=%d failed=%d seconds=%.3f\n", echoed, failed, now() - t);
    } else {
      break;  // "close", end of input, or the hold time is over
    }
  }
  for (Conn& c : conns) {
    if (c.fd >= 0) ::close(c.fd);
  }
  std::printf("closed\n");
  return 0;
}
