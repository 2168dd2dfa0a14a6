#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "Catch.h"
#include "EventLoop.h"
#include "TcpConnection.h"

namespace {

// A TcpConnection over one end of a socketpair; the test plays the peer on the other end.
struct Fixture {
  Fixture() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    peer = fds[1];
    conn = std::make_unique<TcpConnection>(&loop, 7, Socket(fds[0]), InetAddress(80, "10.0.0.1"),
                                           InetAddress(5555, "10.0.0.2"));
  }
  ~Fixture() {
    if (peer >= 0) ::close(peer);
  }
  std::string peerRead() {
    std::string data;
    char buffer[65536];
    ssize_t n;
    while ((n = ::read(peer, buffer, sizeof buffer)) > 0)
      data.append(buffer, static_cast<size_t>(n));
    return data;
  }

  EventLoop loop;
  std::unique_ptr<TcpConnection> conn;
  int peer = -1;
};

}  // namespace

TEST_CASE("establishing reports the connection up; its name is peer#id") {
  Fixture f;
  std::vector<bool> reports;
  f.conn->setConnectionCallback([&](TcpConnection& conn) { reports.push_back(conn.connected()); });
  CHECK_FALSE(f.conn->connected());
  f.conn->connectEstablished();
  CHECK(f.conn->connected());
  CHECK(reports == std::vector<bool>{true});
  CHECK(f.conn->name() == "10.0.0.2:5555#7");
}

TEST_CASE("bytes from the peer reach the message callback; send reaches the peer") {
  Fixture f;
  f.conn->setMessageCallback([&](TcpConnection& conn, Buffer* input) {
    conn.send("echo: " + input->retrieveAllAsString());
    f.loop.quit();
  });
  f.conn->connectEstablished();
  REQUIRE(::write(f.peer, "hi", 2) == 2);
  f.loop.loop();
  CHECK(f.peerRead() == "echo: hi");
}

TEST_CASE("the peer closing reports the connection down and calls the close callback once") {
  Fixture f;
  std::vector<bool> reports;
  int closes = 0;
  f.conn->setConnectionCallback([&](TcpConnection& conn) { reports.push_back(conn.connected()); });
  f.conn->setCloseCallback([&](TcpConnection& conn) {
    ++closes;
    CHECK_FALSE(conn.connected());
    f.loop.quit();
  });
  f.conn->connectEstablished();
  ::close(f.peer);
  f.peer = -1;
  f.loop.loop();
  CHECK(closes == 1);
  CHECK(reports == std::vector<bool>{true, false});
  f.conn->connectDestroyed();  // after a close: nothing more to report
  CHECK(reports.size() == 2);
}

TEST_CASE("connectDestroyed reports an open connection down") {
  Fixture f;
  std::vector<bool> reports;
  f.conn->setConnectionCallback([&](TcpConnection& conn) { reports.push_back(conn.connected()); });
  f.conn->connectEstablished();
  f.conn->connectDestroyed();
  CHECK(reports == std::vector<bool>{true, false});
  f.conn->send("too late");  // a closed connection sends nothing, and does not crash
  CHECK(f.peerRead().empty());
}

TEST_CASE("without an output buffer, what the socket does not take is dropped (until lesson 10)") {
  Fixture f;
  f.conn->connectEstablished();
  const std::string big(8 * 1024 * 1024, 'x');  // far more than a socketpair buffers
  f.conn->send(big);
  const std::string received = f.peerRead();
  CHECK(received.size() < big.size());
}

TEST_CASE("without a message callback, what arrives is discarded, not kept") {
  Fixture f;
  f.conn->connectEstablished();
  const std::string data(65536, 'x');
  REQUIRE(::write(f.peer, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
  f.loop.queueInLoop([&] { f.loop.quit(); });  // one round: the connection reads what is there
  f.loop.loop();
  CHECK(f.conn->inputBuffer()->readableBytes() == 0);
  CHECK(f.conn->inputBuffer()->capacity() == 0);
}
