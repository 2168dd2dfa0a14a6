#include <arpa/inet.h>

#include <stdexcept>

#include "Catch.h"
#include "InetAddress.h"

TEST_CASE("an address formats as ip:port") {
  const InetAddress addr(9877, "127.0.0.1");
  CHECK(addr.toIp() == "127.0.0.1");
  CHECK(addr.port() == 9877);
  CHECK(addr.toIpPort() == "127.0.0.1:9877");
  CHECK(InetAddress(0, "0.0.0.0").toIpPort() == "0.0.0.0:0");
  CHECK(InetAddress(65535, "255.255.255.255").toIpPort() == "255.255.255.255:65535");
}

TEST_CASE("the port is stored in network byte order") {
  const InetAddress addr(0x1234, "10.1.2.3");
  const auto* raw = reinterpret_cast<const sockaddr_in*>(addr.getSockAddr());
  CHECK(raw->sin_family == AF_INET);
  CHECK(raw->sin_port == htons(0x1234));
  CHECK(raw->sin_addr.s_addr == htonl(0x0A010203));
}

TEST_CASE("a sockaddr_in from the kernel round-trips") {
  sockaddr_in raw{};
  raw.sin_family = AF_INET;
  raw.sin_port = htons(443);
  raw.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(InetAddress(raw).toIpPort() == "127.0.0.1:443");
}

TEST_CASE("text that is not an IPv4 address is refused") {
  for (const char* bad : {"localhost", "256.1.1.1", "1.2.3", "::1", "", "1.2.3.4 "}) {
    INFO("ip '" << bad << "'");
    CHECK_THROWS_AS(InetAddress(80, bad), std::invalid_argument);
  }
}
