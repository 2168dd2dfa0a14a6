// Lesson 1: an interactive line client for the echo server.
//
// It sends each line typed on standard input and prints what the server sends back. An echo server
// returns exactly the bytes it got, so after sending a line the client reads until it has received
// that many bytes: one read() may return less, because TCP delivers a byte stream, not messages.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <string>

#include "Options.h"
#include "Util.h"

namespace {

const char kUsage[] =
    "usage: client [--host ADDR] [--port N]\n"
    "  --host ADDR  IPv4 address of the server (default 127.0.0.1)\n"
    "  --port N     port of the server (default 9877)\n"
    "Type lines; each is sent to the server and its echo printed. End with Ctrl-D.\n";

// Reads exactly `length` bytes. Returns false if the server closed or the connection failed first.
bool readExactly(int fd, char* data, size_t length) {
  while (length > 0) {
    const ssize_t n = ::read(fd, data, length);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    length -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int main(int argc, char* argv[]) {
  const Options options = parseCommandLine(argc, argv, kUsage);

  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(options.port);
  ::inet_pton(AF_INET, options.host.c_str(), &server.sin_addr);  // parseOptions checked the address
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) < 0) {
    die("connect " + toIpPort(server));
  }
  std::fprintf(stderr, "connected to %s\n", toIpPort(server).c_str());

  std::string line;
  while (std::getline(std::cin, line)) {
    line += '\n';
    if (!writeAll(fd, line.data(), line.size())) die("write");
    std::string reply(line.size(), '\0');
    if (!readExactly(fd, &reply[0], reply.size())) {
      std::fprintf(stderr, "the server closed the connection\n");
      return 1;
    }
    std::fputs(reply.c_str(), stdout);
    std::fflush(stdout);
  }
  ::close(fd);
  return 0;
}
