#pragma once

// An IPv4 address and port: a value type around sockaddr_in, so that the rest of the code never
// touches byte order or inet_pton/inet_ntop.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

class InetAddress {
 public:
  // Throws std::invalid_argument if `ip` is not a dotted-quad IPv4 address.
  explicit InetAddress(uint16_t port = 0, const std::string& ip = "127.0.0.1");
  explicit InetAddress(const sockaddr_in& addr) : addr_(addr) {}

  std::string toIp() const;
  std::string toIpPort() const;  // "127.0.0.1:9877"
  uint16_t port() const { return ntohs(addr_.sin_port); }

  const sockaddr* getSockAddr() const { return reinterpret_cast<const sockaddr*>(&addr_); }
  sockaddr* getSockAddr() { return reinterpret_cast<sockaddr*>(&addr_); }
  static constexpr socklen_t length() { return sizeof(sockaddr_in); }

 private:
  sockaddr_in addr_;
};
