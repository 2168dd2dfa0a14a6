#pragma once

// Sockets and epoll as the benchmark clients use them. A system call that fails ends the run
// (Program::fail): a benchmark has nothing to retry, and its figures would mean nothing.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "cli.h"

// The server a client connects to: --host ADDR (an IPv4 address, 127.0.0.1 by default) and
// --port P (required).
struct ServerAddress {
  std::string host = "127.0.0.1";
  int port = 0;
  sockaddr_in address{};  // host:port
};

// Reads a client's command line: --port and --host into *server, the client's own flags (which the
// usage lists after those two) into their variables.
inline void parseCommandLine(const Program& program, int argc, char* argv[], ServerAddress* server,
                             std::vector<Flag> flags) {
  flags.insert(flags.begin(),
               {{"--port", "P", &server->port, 1, 65535, true}, {"--host", "ADDR", &server->host}});
  const CommandLine commandLine(program, std::move(flags));
  commandLine.parse(argc, argv);
  server->address.sin_family = AF_INET;
  server->address.sin_port = htons(static_cast<uint16_t>(server->port));
  if (::inet_pton(AF_INET, server->host.c_str(), &server->address.sin_addr) != 1) {
    commandLine.usageError("bad --host " + server->host);
  }
}

// A new TCP socket; `flags` may add SOCK_NONBLOCK. `what` names it in the failure message.
inline int tcpSocket(const Program& program, int flags, const std::string& what) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
  if (fd < 0) program.failErrno("socket (" + what + ")");
  return fd;
}

// How many local ports one source address offers for connections to one server address.
inline int localPortCount() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768, high = 60999;
  range >> low >> high;
  return high - low + 1;
}

// How many source addresses `connections` connections to one server address are spread over:
// `requested` (--sources K), unless it is 0; then 0 (all from 127.0.0.1) while connect()'s half of
// one address's local ports suffices (idleconn.cpp says why half), else as many as they need.
inline int sourceAddresses(int requested, int connections) {
  const int perSource = localPortCount() / 2 - 1000;  // connect()'s half, less a margin
  if (requested == 0 && connections > perSource) return (connections + perSource - 1) / perSource;
  return requested;
}

// Binds a new socket `fd`, connection number `index`, to its source address when there are
// `sources` of them (sourceAddresses): 127.0.0.2, 127.0.0.3, ... in turn, each with its own set of
// local ports. The port is chosen at connect(), not at bind() (IP_BIND_ADDRESS_NO_PORT), so that
// bind() does not reserve one port per socket across all addresses.
inline void bindSource(const Program& program, int fd, int index, int sources) {
  if (sources <= 0) return;  // the default source address, chosen at connect()
  const int on = 1;
  ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(0x7f000002u + static_cast<uint32_t>(index % sources));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) < 0) {
    program.failErrno("bind");
  }
}

// An epoll instance, closed with the object. An event identifies its socket either by a pointer
// (to the client's per-connection state) or by an index (into the client's table of connections).
class Epoll {
 public:
  explicit Epoll(const Program& program) : program_(program), fd_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (fd_ < 0) program_.failErrno("epoll_create1");
  }
  ~Epoll() { ::close(fd_); }
  Epoll(const Epoll&) = delete;
  Epoll& operator=(const Epoll&) = delete;

  void add(int fd, uint32_t events, void* ptr) {
    epoll_data_t data{};
    data.ptr = ptr;
    control(EPOLL_CTL_ADD, fd, events, data, "epoll_ctl(ADD)");
  }
  void add(int fd, uint32_t events, uint32_t index) {
    epoll_data_t data{};
    data.u32 = index;
    control(EPOLL_CTL_ADD, fd, events, data, "epoll_ctl(ADD)");
  }
  void modify(int fd, uint32_t events, void* ptr) {
    epoll_data_t data{};
    data.ptr = ptr;
    control(EPOLL_CTL_MOD, fd, events, data, "epoll_ctl(MOD)");
  }
  // Not checked: the socket is done with, and closing it would remove it all the same.
  void remove(int fd) { ::epoll_ctl(fd_, EPOLL_CTL_DEL, fd, nullptr); }

  // Waits up to `timeoutMs` for at most events->size() events; returns how many came (0 when a
  // signal interrupted the wait).
  int wait(std::vector<epoll_event>* events, int timeoutMs) {
    const int n = ::epoll_wait(fd_, events->data(), static_cast<int>(events->size()), timeoutMs);
    if (n < 0 && errno != EINTR) program_.failErrno("epoll_wait");
    return std::max(n, 0);
  }

 private:
  void control(int op, int fd, uint32_t events, epoll_data_t data, const char* what) {
    epoll_event event{};
    event.events = events;
    event.data = data;
    if (::epoll_ctl(fd_, op, fd, &event) < 0) program_.failErrno(what);
  }

  const Program& program_;
  const int fd_;
};
