// Idle-connection load generator: opens N TCP connections to a server as fast as it can, holds them,
// checks one echo on each when asked, and closes them all.
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
// So up to about half the range the connections come from 127.0.0.1; beyond it, or with --sources K,
// they are spread over 127.0.0.2 .. 127.0.0.(K+1), all loopback.
//
//   idleconn --port P [--host 127.0.0.1] [--connections 10000] [--sources 0] [--timeout 30]
//            [--hold 300]

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cli.h"

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = -1;
  int connections = 10000;
  int sources = 0;  // 0: one source address when the local port range suffices, else as needed
  double timeout = 30;
  double hold = 300;
};

const char kUsage[] =
    "usage: idleconn --port P [--host ADDR] [--connections N] [--sources K] [--timeout S] "
    "[--hold S]\n";

[[noreturn]] void usage(const std::string& why) { usageError("idleconn", kUsage, why); }

double parseNumber(const std::string& flag, const char* text, double min, double max) {
  return ::parseNumber("idleconn", kUsage, flag, text, min, max);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "idleconn: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

double now() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);  // the clock Python's time.monotonic() reads on Linux
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

Options parseOptions(int argc, char* argv[]) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage("missing value for " + flag);
    const char* value = argv[++i];
    if (flag == "--host") {
      o.host = value;
    } else if (flag == "--port") {
      o.port = static_cast<int>(parseNumber("--port", value, 1, 65535));
    } else if (flag == "--connections") {
      o.connections = static_cast<int>(parseNumber("--connections", value, 1, 1000000));
    } else if (flag == "--sources") {
      o.sources = static_cast<int>(parseNumber("--sources", value, 0, 250));
    } else if (flag == "--timeout") {
      o.timeout = parseNumber("--timeout", value, 0.1, 3600);
    } else if (flag == "--hold") {
      o.hold = parseNumber("--hold", value, 1, 3600);
    } else {
      usage("unknown option " + flag);
    }
  }
  if (o.port < 0) usage("--port is required");
  return o;
}

// How many local ports one source address offers for connections to one server address.
int localPortCount() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768, high = 60999;
  range >> low >> high;
  return high - low + 1;
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

// Starts every connect without waiting (non-blocking), then collects the results with epoll.
void connectAll(const Options& o) {
  int sources = o.sources;
  const int perSource = localPortCount() / 2 - 1000;  // connect()'s half, less a margin
  if (sources == 0 && o.connections > perSource) sources = (o.connections + perSource - 1) / perSource;
  sourcesUsed = sources;

  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(static_cast<uint16_t>(o.port));
  if (::inet_pton(AF_INET, o.host.c_str(), &server.sin_addr) != 1) usage("bad --host " + o.host);

  const int epollFd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epollFd < 0) die("epoll_create1");
  conns.resize(static_cast<size_t>(o.connections));
  int pending = 0;
  for (int i = 0; i < o.connections; ++i) {
    Conn& c = conns[static_cast<size_t>(i)];
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) die("socket (connection " + std::to_string(i) + ")");
    if (sources > 0) {
      // 127.0.0.2, 127.0.0.3, ...: each source address has its own set of local ports. The port is
      // chosen at connect(), not at bind() (IP_BIND_ADDRESS_NO_PORT), so that bind() does not
      // reserve one port per socket across all addresses.
      const int on = 1;
      ::setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
      sockaddr_in local{};
      local.sin_family = AF_INET;
      local.sin_addr.s_addr = htonl(0x7f000002u + static_cast<uint32_t>(i % sources));
      if (::bind(c.fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) < 0) die("bind");
    }
    const int rc = ::connect(c.fd, reinterpret_cast<const sockaddr*>(&server), sizeof server);
    if (rc == 0) {
      c.connected = true;
    } else if (errno == EINPROGRESS) {
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.u32 = static_cast<uint32_t>(i);
      if (::epoll_ctl(epollFd, EPOLL_CTL_ADD, c.fd, &ev) < 0) die("epoll_ctl(ADD)");
      ++pending;
    } else {
      if (failedConnects == 0) std::fprintf(stderr, "idleconn: connect: %s\n", std::strerror(errno));
      c.failed = true;
      ++failedConnects;
    }
  }

  std::vector<epoll_event> events(1024);
  const double deadline = now() + o.timeout;
  while (pending > 0 && now() < deadline) {
    const int n = ::epoll_wait(epollFd, events.data(), static_cast<int>(events.size()), 100);
    for (int k = 0; k < n; ++k) {
      Conn& c = conns[events[k].data.u32];
      int error = 0;
      socklen_t length = sizeof error;
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length);
      ::epoll_ctl(epollFd, EPOLL_CTL_DEL, c.fd, nullptr);
      --pending;
      if (error == 0) {
        c.connected = true;
      } else {
        if (failedConnects == 0) std::fprintf(stderr, "idleconn: connect: %s\n", std::strerror(error));
        c.failed = true;
        ++failedConnects;
      }
    }
  }
  failedConnects += pending;  // still not connected at the deadline
  ::close(epollFd);
}

// Sends 4 bytes (the connection's index) on every connected socket, and waits for them back.
void echoAll(const Options& o, int* ok, int* failed) {
  const int epollFd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epollFd < 0) die("epoll_create1");
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
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    if (::epoll_ctl(epollFd, EPOLL_CTL_ADD, c.fd, &ev) < 0) die("epoll_ctl(ADD)");
    ++pending;
  }
  std::vector<epoll_event> events(1024);
  const double deadline = now() + o.timeout;
  while (pending > 0 && now() < deadline) {
    const int n = ::epoll_wait(epollFd, events.data(), static_cast<int>(events.size()), 100);
    for (int k = 0; k < n; ++k) {
      Conn& c = conns[events[k].data.u32];
      unsigned char got[4];
      const ssize_t r = ::read(c.fd, got, sizeof got - c.echoed);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      bool done = false;
      if (r <= 0 || std::memcmp(got, c.echo + c.echoed, static_cast<size_t>(r)) != 0) {
        ++*failed;  // closed, reset, or a wrong byte
        done = true;
      } else {
        c.echoed += static_cast<uint32_t>(r);
        if (c.echoed == sizeof c.echo) {
          ++*ok;
          done = true;
        }
      }
      if (done) {
        ::epoll_ctl(epollFd, EPOLL_CTL_DEL, c.fd, nullptr);
        --pending;
      }
    }
  }
  *failed += pending;  // no (whole) echo by the deadline
  ::close(epollFd);
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
  std::printf("connected ok=%d failed=%d seconds=%.3f sources=%d\n", ok, failedConnects, now() - start,
              sourcesUsed);

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
