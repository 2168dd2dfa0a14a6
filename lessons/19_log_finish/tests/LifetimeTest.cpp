// Who holds a connection, and for how long: reference counts (use_count) at each step, a handler
// that drops the last outside reference, work queued from another thread that outlives its caller's
// reference. AddressSanitizer (-DSANITIZE=address) reports any access to a connection already gone.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "Buffer.h"
#include "Catch.h"
#include "Channel.h"
#include "EventLoop.h"
#include "TcpConnection.h"
#include "TcpServer.h"
#include "Watchdog.h"

namespace {

// A connection over one end of a socketpair, owned by the test alone; the test plays the peer on
// the other end, in the same loop, and collects what it reads.
struct Pair {
  Pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    peer = fds[1];
    conn = std::make_shared<TcpConnection>(&loop, 1, Socket(fds[0]), InetAddress(80, "10.0.0.1"),
                                           InetAddress(5555, "10.0.0.2"));
    peerChannel = std::make_unique<Channel>(&loop, peer);
    peerChannel->setReadCallback([this] {
      char buffer[4096];
      ssize_t n;
      while ((n = ::read(peer, buffer, sizeof buffer)) > 0) {
        received.append(buffer, static_cast<size_t>(n));
      }
      if (n == 0 || (n < 0 && errno != EAGAIN)) {
        peerSawEnd = true;
        peerChannel->disableAll();
        loop.quit();
      }
    });
    peerChannel->enableReading();
  }
  ~Pair() {
    peerChannel.reset();
    if (conn) conn->connectDestroyed();
    conn.reset();
    ::close(peer);
  }

  EventLoop loop;
  TcpConnectionPtr conn;
  int peer = -1;
  std::unique_ptr<Channel> peerChannel;
  std::string received;
  bool peerSawEnd = false;
};

}  // namespace

TEST_CASE("use_count: the owner's reference, and one for each call or functor that needs it") {
  Pair p;
  Watchdog watchdog(&p.loop, 20);
  CHECK(p.conn.use_count() == 1);  // the test's, alone
  p.conn->connectEstablished();
  CHECK(p.conn.use_count() == 1);  // the Channel's tie is a weak_ptr: it holds nothing
  long inCallback = 0;
  p.conn->setMessageCallback([&](const TcpConnectionPtr& conn, Buffer* input) {
    // The test's, the Channel's guard while the handler runs, and the callback's argument.
    inCallback = conn.use_count();
    input->retrieveAll();
    p.loop.quit();
  });
  REQUIRE(::write(p.peer, "hi", 2) == 2);
  p.loop.loop();
  CHECK(inCallback == 3);
  CHECK(p.conn.use_count() == 1);  // all let go once the round is over
  std::thread other([conn = p.conn] { conn->send(std::string("from another thread")); });
  other.join();  // its copy is gone: what holds the connection now is the queued send
  CHECK(p.conn.use_count() == 2);
  // After the send: a shutdown() called in the loop's thread would run at once, ahead of it.
  p.loop.queueInLoop([&] { p.conn->shutdown(); });
  p.loop.loop();  // runs the send and the half-close; the peer reads, then sees the end
  CHECK_FALSE(watchdog.fired());
  CHECK(p.received == "from another thread");
  CHECK(p.conn.use_count() == 1);
}

TEST_CASE("a close callback that drops the last reference: the connection goes after the handler") {
  Pair p;
  Watchdog watchdog(&p.loop, 20);
  p.conn->connectEstablished();
  long countInCallback = 0;
  p.conn->setCloseCallback([&](const TcpConnectionPtr& conn) {
    p.conn.reset();  // the last reference outside the library, as a server's map erase would be
    countInCallback = conn.use_count();  // handleClose's guard, and the Channel's for this handler
  });
  ::shutdown(p.peer, SHUT_WR);  // the peer's end of stream: the connection closes
  // Until the peer reads the end of stream: the connection's socket is closed only when the
  // connection is destroyed, so that is when it was. (No weak_ptr watches it here: one would keep
  // its memory allocated, and AddressSanitizer could not see a use after the destruction.)
  p.loop.loop();
  CHECK_FALSE(watchdog.fired());
  CHECK(countInCallback == 2);
  CHECK(p.conn == nullptr);
  CHECK(p.peerSawEnd);
}

TEST_CASE("a send from another thread of a temporary string outlives every other reference") {
  Pair p;
  Watchdog watchdog(&p.loop, 20);
  p.conn->connectEstablished();
  const std::weak_ptr<TcpConnection> weak = p.conn;
  std::thread other([conn = std::move(p.conn)] {  // the thread takes the only reference
    // A temporary, on the heap (longer than a short string's inline room): copied into the functor.
    conn->send(std::string("last words, sent after every caller let go"));
  });  // ... and lets go of it when it ends
  other.join();
  CHECK_FALSE(weak.expired());  // the queued send holds it now, and nothing else does
  p.loop.loop();  // sends, then destroys the connection with its functor: the peer reads the end
  CHECK_FALSE(watchdog.fired());
  CHECK(p.received == "last words, sent after every caller let go");
  CHECK(p.peerSawEnd);
  CHECK(weak.expired());
}

TEST_CASE("a server's connection: its map holds one reference, and none is left once it closed") {
  EventLoop loop;
  Watchdog watchdog(&loop, 20);
  std::mutex mutex;
  long countInMessage = 0;
  std::weak_ptr<TcpConnection> weak;
  TcpServer server(&loop, InetAddress(0, "127.0.0.1"));
  server.setThreadNum(1);
  server.setMessageCallback([&](const TcpConnectionPtr& conn, Buffer* input) {
    std::lock_guard<std::mutex> lock(mutex);
    countInMessage = conn.use_count();  // the map's, the Channel's guard, the argument
    weak = conn;
    conn->send(input);
  });
  std::atomic<bool> down{false};
  server.setConnectionCallback([&](const TcpConnectionPtr& conn) {
    if (!conn->connected()) down = true;
  });
  server.start();
  // A client thread: the main loop must run meanwhile, to accept. The close goes to the main loop
  // (the map) and back to the I/O loop (the release); then the client thread stops the main loop.
  bool echoed = false;
  std::thread client([&] {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 &&
        ::connect(fd, server.listenAddress().getSockAddr(), InetAddress::length()) == 0 &&
        ::write(fd, "ping", 4) == 4) {
      char reply[4];
      echoed = ::read(fd, reply, sizeof reply) == 4;
    }
    if (fd >= 0) ::close(fd);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (down && weak.expired()) break;
      }
      std::this_thread::yield();
    }
    loop.quit();
  });
  loop.loop();
  client.join();
  CHECK_FALSE(watchdog.fired());
  CHECK(echoed);
  std::lock_guard<std::mutex> lock(mutex);
  CHECK(countInMessage == 3);
  CHECK(down);
  CHECK(weak.expired());
}
