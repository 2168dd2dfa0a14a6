#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "Buffer.h"
#include "Catch.h"
#include "EventLoop.h"
#include "Socket.h"
#include "TcpConnection.h"
#include "TcpServer.h"
#include "Watchdog.h"

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

std::string readSome(int fd) {
  char buffer[256];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
}

}  // namespace

TEST_CASE("a client's connection, bytes and disconnection reach the callbacks") {
  EventLoop loop;
  std::vector<std::string> events;  // declared before the server, whose destructor reports to it
  TcpServer server(&loop, InetAddress(0, "127.0.0.1"));
  server.setConnectionCallback([&](const TcpConnectionPtr& conn) {
    events.push_back((conn->connected() ? "up " : "down ") + conn->peerAddress().toIpPort());
    if (!conn->connected()) loop.quit();
  });
  server.setMessageCallback([&](const TcpConnectionPtr& conn, Buffer* input) {
    const std::string message = input->retrieveAllAsString();
    events.push_back("message " + message);
    conn->send(message);
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
  server.setMessageCallback([&](const TcpConnectionPtr&, Buffer* input) {
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
  std::string received;
  TcpServer server(&loop, InetAddress(0, "127.0.0.1"));
  server.setMessageCallback([&](const TcpConnectionPtr&, Buffer* input) {
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

TEST_CASE("destroying the server reports its connections down and closes them") {
  int client = -1;
  int up = 0, down = 0;
  {
    EventLoop loop;
    TcpServer server(&loop, InetAddress(0, "127.0.0.1"));
    server.setConnectionCallback([&](const TcpConnectionPtr& conn) {
      if (conn->connected()) {
        ++up;
        loop.quit();
      } else {
        ++down;
      }
    });
    server.start();
    client = connectTo(server.listenAddress());
    loop.loop();  // accepted
  }
  CHECK(up == 1);
  CHECK(down == 1);
  char byte;
  CHECK(::read(client, &byte, 1) == 0);  // end of stream: the server side closed
  ::close(client);
}

TEST_CASE("connections get distinct ids and names with the peer's address") {
  EventLoop loop;
  std::vector<std::string> names;  // before the server: ~TcpServer still calls the callback
  TcpServer server(&loop, InetAddress(0, "127.0.0.1"));
  server.setConnectionCallback([&](const TcpConnectionPtr& conn) {
    if (!conn->connected()) return;
    CHECK(conn->localAddress().toIpPort() == server.listenAddress().toIpPort());
    names.push_back(conn->name());
    if (names.size() == 2) loop.quit();
  });
  server.start();
  const int a = connectTo(server.listenAddress());
  const int b = connectTo(server.listenAddress());
  loop.loop();
  REQUIRE(names.size() == 2);
  CHECK(names[0] != names[1]);
  CHECK(names[0].find(localAddressOf(a).toIpPort() + "#") == 0);
  CHECK(names[1].find(localAddressOf(b).toIpPort() + "#") == 0);
  ::close(a);
  ::close(b);
}

TEST_CASE(
    "a write complete still queued when the server goes is dropped, never run on a dead one") {
  EventLoop loop;
  Watchdog watchdog(&loop, 20);
  int completes = 0;
  {
    TcpServer server(&loop, InetAddress(0, "127.0.0.1"));
    std::weak_ptr<TcpConnection> accepted;
    server.setConnectionCallback([&](const TcpConnectionPtr& conn) {
      if (!conn->connected()) return;
      accepted = conn;
      loop.quit();
    });
    server.setWriteCompleteCallback([&](const TcpConnectionPtr&) { ++completes; });
    server.start();
    const int client = connectTo(server.listenAddress());
    loop.loop();  // accepts, then quits
    const TcpConnectionPtr conn = accepted.lock();
    REQUIRE(conn);
    conn->send("a");  // taken whole: its write complete is queued, and the loop is not running
    ::close(client);
  }  // the connection is reported down with that write complete still queued
  loop.queueInLoop([&] { loop.quit(); });
  loop.loop();  // runs it: the connection must still exist (AddressSanitizer checks), and is down
  CHECK_FALSE(watchdog.fired());
  CHECK(completes == 0);
}
