#pragma once

// Helpers that both programs of this lesson use: reporting a failed system call, writing a whole
// buffer, and printing an address.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>

// errno's text, safe to call from several threads at once. std::strerror may return a buffer that
// it shares between threads (C++ says it need not avoid data races), so two threads reporting at
// the same moment could print each other's message. std::error_category::message, like every
// C++ library function not marked otherwise, must not race.
inline std::string errnoText(int error) { return std::generic_category().message(error); }

// For failures the program cannot go on after (socket, bind, listen, connect): the call, errno's
// text, exit code 1.
[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), errnoText(errno).c_str());
  std::exit(1);
}

// For failures that end one connection but not the program.
inline void warn(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), errnoText(errno).c_str());
}

// write() may write less than asked (a signal can interrupt it part-way); loop until all is
// written. Returns false with errno set if the connection failed (EPIPE, ECONNRESET, ...).
inline bool writeAll(int fd, const char* data, size_t length) {
  while (length > 0) {
    const ssize_t n = ::write(fd, data, length);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    length -= static_cast<size_t>(n);
  }
  return true;
}

inline std::string toIpPort(const sockaddr_in& addr) {
  char ip[INET_ADDRSTRLEN] = "";
  ::inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
  return std::string(ip) + ":" + std::to_string(ntohs(addr.sin_port));
}
