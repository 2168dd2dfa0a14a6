#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "Buffer.h"
#include "Catch.h"
#include "Channel.h"
#include "EventLoop.h"
#include "Socket.h"
#include "TcpServer.h"

namespace {

// A plain blocking client socket connected to `server`. The connection completes in the kernel's
// accept queue even before the loop runs, so a test can connect first and run the loop after.
int connectTo(const InetAddress& server) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  REQUIRE(::connect(fd, server.getSockAddr(), InetAddress::length()) == 0);
  return fd;
}

InetAddress localAddressOf(int fd) {
  sockaddr_in addr{};
  socklen_t length = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0);
  return InetAddress(addr);
}

// The test process's resident memory (VmRSS), in bytes.
size_t residentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6)) * 1024;
  }
  FAIL("no VmRSS in /proc/self/status");
  return 0;
}

std::string readSome(int fd) {
  char buffer[256];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
}

}  // namespace

TEST_CASE("a client's connection, bytes and disconnection reach the callbacks") {
  EventLoop loop;
  TcpServer server(&loop, InetAddress(0, "127.0.0.1"));
  std::vector<std::string> events;
  server.setConnectionCallback([&](const InetAddress& peer, bool connected) {
    events.push_back((connected ? "up " : "down ") + peer.toIpPort());
    if (!connected) loop.quit();
  });
  server.setMessageCallback([&](int fd, const InetAddress&, Buffer* input) {
    const std::string message = input->retrieveAllAsString();
    events.push_back("message " + message);
    REQUIRE(::write(fd, message.data(), message.size()) == static_cast<ssize_t>(message.size()));
    loop.quit();
  });
  server.start();

  const int client = connectTo(server.listenAddress());
  const std::string me = localAddressOf(client).toIpPort();
  REQUIRE(::write(client, "hello", 5) == 5);
  loop.loop();  // accepts, reads "hello", the callback answers and quits
  CHECK(readSome(client) == "hello");

  ::close(client);
  loop.loop();  // reads the end of the stream, closes, reports it and quits
  CHECK(events == std::vector<std::string>{"up " + me, "message hello", "down " + me});
}

TEST_CASE("what the callback leaves in the input buffer waits for the rest of the message") {
  EventLoop loop;
  TcpServer server(&loop, InetAddress(0, "127.0.0.1"));
  std::vector<std::string> lines;
  // A line protocol: only complete lines are taken; a partial one stays in the buffer.
  server.setMessageCallback([&](int, const InetAddress&, Buffer* input) {
    while (const char* eol = input->findEOL()) {
      lines.emplace_back(input->peek(), eol);
      input->retrieveUntil(eol + 1);
    }
    loop.quit();  // after each read, so the test can send the next piece
  });
  server.start();
  const int client = connectTo(server.listenAddress());
  for (const char* piece : {"hel", "lo\nwor", "ld\n"}) {
    REQUIRE(::write(client, piece, std::strlen(piece)) == static_cast<ssize_t>(std::strlen(piece)));
    loop.loop();  // one read of exactly this piece: the client waits for nothing in between
  }
  CHECK(lines == std::vector<std::string>{"hello", "world"});
  ::close(client);
}

TEST_CASE("a port in use is refused when the server is made, not later") {
  EventLoop loop;
  TcpServer first(&loop, InetAddress(0, "127.0.0.1"));
  first.start();
  try {
    TcpServer second(&loop, first.listenAddress());
    FAIL("a second server bound a port in use");
  } catch (const std::system_error& e) {
    CHECK(e.code().value() == EADDRINUSE);
  }
}

TEST_CASE("a client that resets is closed; the others are still served") {
  EventLoop loop;
  TcpServer server(&loop, InetAddress(0, "127.0.0.1"));
  std::string received;
  server.setMessageCallback([&](int, const InetAddress&, Buffer* input) {
    received += input->retrieveAllAsString();
    if (received == "still here") loop.quit();
  });
  server.start();

  const int resetter = connectTo(server.listenAddress());
  const int other = connectTo(server.listenAddress());
  const linger abort{1, 0};  // close() now sends RST instead of FIN
  REQUIRE(::setsockopt(resetter, SOL_SOCKET, SO_LINGER, &abort, sizeof abort) == 0);
  ::close(resetter);
  REQUIRE(::write(other, "still here", 10) == 10);
  loop.loop();
  CHECK(received == "still here");
  ::close(other);
}

TEST_CASE("destroying the server closes its connections") {
  int client = -1;
  {
    EventLoop loop;
    TcpServer server(&loop, InetAddress(0, "127.0.0.1"));
    server.setConnectionCallback([&](const InetAddress&, bool connected) {
      if (connected) loop.quit();
    });
    server.start();
    client = connectTo(server.listenAddress());
    loop.loop();  // accepted
  }
  char byte;
  CHECK(::read(client, &byte, 1) == 0);  // end of stream: the server side closed
  ::close(client);
}

TEST_CASE("without a message callback, what arrives is discarded, not kept") {
  EventLoop loop;
  TcpServer server(&loop, InetAddress(0, "127.0.0.1"));
  bool closed = false;  // declared before the server would be safer; the client closes first here
  server.setConnectionCallback([&](const InetAddress&, bool connected) {
    if (!connected) {
      closed = true;
      loop.quit();
    }
  });
  server.start();

  // A client in the same loop writes 32 MiB as fast as the server reads, then closes.
  const int client = connectTo(server.listenAddress());
  REQUIRE(::fcntl(client, F_SETFL, O_NONBLOCK) == 0);
  const std::string chunk(64 * 1024, 'x');
  const size_t total = 32 * 1024 * 1024;
  size_t sent = 0;
  Channel writer(&loop, client);
  writer.setWriteCallback([&] {
    const ssize_t n = ::write(client, chunk.data(), std::min(chunk.size(), total - sent));
    if (n > 0) sent += static_cast<size_t>(n);
    if (sent == total) {
      writer.disableAll();
      ::shutdown(client, SHUT_WR);  // the server then reads its end of stream and closes
    }
  });
  const size_t before = residentBytes();
  writer.enableWriting();
  loop.loop();
  CHECK(closed);
  CHECK(sent == total);
  // Kept, 32 MiB would show; discarded, the server holds one read at a time.
  CHECK(residentBytes() - before < 8 * 1024 * 1024);
  ::close(client);
}
