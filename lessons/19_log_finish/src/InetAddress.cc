#include "InetAddress.h"

#include <arpa/inet.h>

#include <stdexcept>

InetAddress::InetAddress(uint16_t port, const std::string& ip) : addr_{} {
  addr_.sin_family = AF_INET;
  addr_.sin_port = htons(port);
  if (::inet_pton(AF_INET, ip.c_str(), &addr_.sin_addr) != 1) {
    throw std::invalid_argument("not an IPv4 address: '" + ip + "'");
  }
}

std::string InetAddress::toIp() const {
  char ip[INET_ADDRSTRLEN] = "";
  ::inet_ntop(AF_INET, &addr_.sin_addr, ip, sizeof ip);
  return ip;
}

std::string InetAddress::toIpPort() const { return toIp() + ":" + std::to_string(port()); }
