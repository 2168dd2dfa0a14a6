// The main Reactor and its sub-Reactors: EventLoopThread, EventLoopThreadPool, and a TcpServer
// that hands its connections to I/O loops. ThreadSanitizer (-DSANITIZE=thread) watches them all.

#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "Buffer.h"
#include "Catch.h"
#include "EventLoop.h"
#include "EventLoopThread.h"
#include "EventLoopThreadPool.h"
#include "TcpConnection.h"
#include "TcpServer.h"
#include "Watchdog.h"

namespace {

int connectTo(const InetAddress& server) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  REQUIRE(::connect(fd, server.getSockAddr(), InetAddress::length()) == 0);
  return fd;
}

// Sends `message` and reads the same number of bytes back, blocking (a plain client thread).
bool echoed(int fd, const std::string& message) {
  if (::write(fd, message.data(), message.size()) != static_cast<ssize_t>(message.size())) {
    return false;
  }
  std::string got;
  char buffer[256];
  while (got.size() < message.size()) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return false;
    got.append(buffer, static_cast<size_t>(n));
  }
  return got == message;
}

}  // namespace

TEST_CASE("an EventLoopThread's loop runs in its own thread, named after it") {
  EventLoopThread thread("io loop 7");
  EventLoop* loop = thread.startLoop();
  REQUIRE(loop != nullptr);
  CHECK_FALSE(loop->isInLoopThread());
  CHECK(loop->name() == "io loop 7");
  std::mutex mutex;
  bool inLoopThread = false;
  std::string threadName;
  std::atomic<bool> done{false};
  loop->runInLoop([&] {
    char name[16] = "";
    ::pthread_getname_np(::pthread_self(), name, sizeof name);
    std::lock_guard<std::mutex> lock(mutex);
    inLoopThread = loop->isInLoopThread();
    threadName = name;
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  std::lock_guard<std::mutex> lock(mutex);
  CHECK(inLoopThread);
  CHECK(threadName == "io loop 7");
}

TEST_CASE("destroying an EventLoopThread quits its loop and joins it; what was queued still runs") {
  std::atomic<int> ran{0};
  const auto started = std::chrono::steady_clock::now();
  {
    EventLoopThread thread("io loop");
    EventLoop* loop = thread.startLoop();
    for (int i = 0; i < 100; ++i) loop->queueInLoop([&] { ++ran; });
  }  // quit() and join(): the loop was waiting for nothing, and must not wait any longer
  CHECK(ran == 100);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
}

TEST_CASE("an EventLoopThreadPool hands out its loops in turn; without threads, the base loop") {
  EventLoop base;
  {
    EventLoopThreadPool none(&base, 0);
    none.start();
    CHECK(none.getNextLoop() == &base);
    CHECK(none.getNextLoop() == &base);
    CHECK(none.getAllLoops() == std::vector<EventLoop*>{&base});
  }
  EventLoopThreadPool pool(&base, 3);
  pool.start();
  const std::vector<EventLoop*> loops = pool.getAllLoops();
  REQUIRE(loops.size() == 3);
  CHECK(std::set<EventLoop*>(loops.begin(), loops.end()).size() == 3);
  CHECK(std::set<EventLoop*>(loops.begin(), loops.end()).count(&base) == 0);
  for (int round = 0; round < 2; ++round) {
    for (EventLoop* expected : loops) CHECK(pool.getNextLoop() == expected);
  }
}

TEST_CASE("a server with I/O threads gives connections to its loops in turn; callbacks run there") {
  EventLoop loop;
  Watchdog watchdog(&loop, 20);
  std::mutex mutex;
  std::vector<EventLoop*> loopsOfConnections;  // in the order connected
  bool callbacksInTheirLoop = true;
  std::atomic<int> up{0};
  TcpServer server(&loop, InetAddress(0, "127.0.0.1"));
  server.setThreadNum(2);
  server.setConnectionCallback([&](const TcpConnectionPtr& conn) {
    std::lock_guard<std::mutex> lock(mutex);
    callbacksInTheirLoop &= conn->getLoop()->isInLoopThread();
    if (conn->connected()) loopsOfConnections.push_back(conn->getLoop());
    if (conn->connected() && ++up == 4) loop.queueInLoop([&] { loop.quit(); });
  });
  server.setMessageCallback([&](const TcpConnectionPtr& conn, Buffer* input) {
    std::lock_guard<std::mutex> lock(mutex);
    callbacksInTheirLoop &= conn->getLoop()->isInLoopThread();
    conn->send(input);
  });
  server.start();
  const std::vector<EventLoop*> ioLoops = server.ioLoops();
  REQUIRE(ioLoops.size() == 2);
  std::vector<int> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(connectTo(server.listenAddress()));
  loop.loop();  // accepts the 4 (the kernel completed their handshakes), then quits
  for (int i = 0; i < 4; ++i)
    CHECK(echoed(clients[static_cast<size_t>(i)], "hi " + std::to_string(i)));
  {
    std::lock_guard<std::mutex> lock(mutex);
    CHECK(loopsOfConnections.size() == 4);
    CHECK(std::set<EventLoop*>(loopsOfConnections.begin(), loopsOfConnections.end()) ==
          std::set<EventLoop*>(ioLoops.begin(), ioLoops.end()));
    CHECK(callbacksInTheirLoop);
  }
  for (int fd : clients) ::close(fd);
  CHECK_FALSE(watchdog.fired());
}

TEST_CASE("destroying a server with I/O threads reports every connection down, in its loop") {
  std::atomic<int> down{0};
  std::atomic<bool> downInItsLoop{true};
  std::vector<int> clients;
  {
    EventLoop loop;
    Watchdog watchdog(&loop, 20);
    std::atomic<int> up{0};
    TcpServer server(&loop, InetAddress(0, "127.0.0.1"));
    server.setThreadNum(2);
    server.setConnectionCallback([&](const TcpConnectionPtr& conn) {
      if (conn->connected()) {
        if (++up == 4) loop.queueInLoop([&] { loop.quit(); });
      } else {
        ++down;
        if (!conn->getLoop()->isInLoopThread()) downInItsLoop = false;
      }
    });
    server.start();
    for (int i = 0; i < 4; ++i) clients.push_back(connectTo(server.listenAddress()));
    loop.loop();
    CHECK_FALSE(watchdog.fired());
  }  // ~TcpServer, then its I/O threads end
  CHECK(down == 4);
  CHECK(downInItsLoop);
  for (int fd : clients) {
    char byte;
    CHECK(::read(fd, &byte, 1) == 0);  // end of stream: each closed in its loop
    ::close(fd);
  }
}

TEST_CASE(
    "connect, echo and close storms on 2 I/O threads: every echo right, every connection gone") {
  constexpr int kClientThreads = 4;
  constexpr int kCycles = 200;
  EventLoop loop;
  Watchdog watchdog(&loop, 60);
  std::atomic<int> open{0};
  TcpServer server(&loop, InetAddress(0, "127.0.0.1"));
  server.setThreadNum(2);
  server.setConnectionCallback(
      [&](const TcpConnectionPtr& conn) { open += conn->connected() ? 1 : -1; });
  server.setMessageCallback([](const TcpConnectionPtr& conn, Buffer* input) { conn->send(input); });
  server.start();
  const InetAddress address = server.listenAddress();
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClientThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kCycles; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        if (::connect(fd, address.getSockAddr(), InetAddress::length()) == 0 &&
            echoed(fd, "client " + std::to_string(t) + " cycle " + std::to_string(i))) {
          ++good;
        }
        ::close(fd);  // some while their echo may still be on its way back
      }
    });
  }
  std::thread stopper([&] {
    for (std::thread& client : clients) client.join();
    // Every client has closed; wait (bounded) until the server has seen every close, then stop.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (open != 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    loop.quit();
  });
  loop.loop();
  stopper.join();
  CHECK_FALSE(watchdog.fired());
  CHECK(good == kClientThreads * kCycles);
  CHECK(open == 0);
}

TEST_CASE(
    "a server destroyed while its I/O loop sends: no write complete outlives its connection") {
  // ~TcpServer hands each connection to its loop to be destroyed. A send that loop runs just before
  // (a worker's reply, say) queues a write complete, which holds the connection (lesson 13's held
  // only its address), into the loop's next batch: the connection must still exist when that runs.
  // The more connections, the longer ~TcpServer is still queueing while the loop runs those
  // batches; AddressSanitizer (-DSANITIZE=address) reports any write complete that runs on a
  // destroyed connection.
  constexpr int kRounds = 20;
  constexpr int kConnections = 64;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<int> clients;
    std::atomic<int> writeCompletes{0};
    std::atomic<int> down{0};
    {
      EventLoop loop;
      Watchdog watchdog(&loop, 20);
      std::mutex mutex;
      std::vector<std::weak_ptr<TcpConnection>> connections;
      TcpServer server(&loop, InetAddress(0, "127.0.0.1"));
      server.setThreadNum(1);
      server.setConnectionCallback([&](const TcpConnectionPtr& conn) {
        if (!conn->connected()) {
          ++down;
          return;
        }
        std::lock_guard<std::mutex> lock(mutex);
        connections.push_back(conn);
        if (connections.size() == kConnections) loop.queueInLoop([&] { loop.quit(); });
      });
      server.setWriteCompleteCallback([&](const TcpConnectionPtr&) { ++writeCompletes; });
      server.start();
      for (int i = 0; i < kConnections; ++i) clients.push_back(connectTo(server.listenAddress()));
      loop.loop();
      REQUIRE_FALSE(watchdog.fired());
      EventLoop* ioLoop = server.ioLoops().front();
      std::lock_guard<std::mutex> lock(mutex);
      for (const std::weak_ptr<TcpConnection>& weak : connections) {
        ioLoop->queueInLoop([weak] {
          if (TcpConnectionPtr conn = weak.lock()) conn->send("x");
        });
      }
    }  // ~TcpServer queues each connection's destruction behind its send
    CHECK(down == kConnections);
    CHECK(writeCompletes <= kConnections);
    for (int fd : clients) ::close(fd);
  }
}
