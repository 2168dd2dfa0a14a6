// Calls into a loop from other threads: runInLoop, queueInLoop, quit, and send() on a connection.
// ThreadSanitizer (-DSANITIZE=thread) watches every one of these for data races.

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "Catch.h"
#include "EventLoop.h"
#include "TcpConnection.h"
#include "Watchdog.h"

namespace {

// A gate one thread waits at until another opens it.
class Gate {
 public:
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    opened_.wait(lock, [this] { return open_; });
  }
  void open() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      open_ = true;
    }
    opened_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

}  // namespace

TEST_CASE("runInLoop runs at once in the loop's thread, and in the loop's thread from another") {
  EventLoop loop;
  Watchdog watchdog(&loop, 20);
  bool ranAtOnce = false;
  loop.runInLoop([&] { ranAtOnce = true; });
  CHECK(ranAtOnce);  // same thread: no queueing

  std::thread::id ranIn;
  std::thread other([&] {
    loop.runInLoop([&] {
      ranIn = std::this_thread::get_id();
      loop.quit();
    });
  });
  loop.loop();
  other.join();
  CHECK_FALSE(watchdog.fired());
  CHECK(ranIn == std::this_thread::get_id());
}

TEST_CASE("functors queued by many threads all run in the loop's thread, each thread's in order") {
  constexpr int kThreads = 4;
  constexpr int kFunctors = 5000;
  EventLoop loop;
  Watchdog watchdog(&loop, 20);
  std::vector<std::vector<int>> seen(kThreads);  // the loop thread's only
  int total = 0;
  bool allInLoopThread = true;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kFunctors; ++i) {
        loop.queueInLoop([&, t, i] {
          allInLoopThread &= loop.isInLoopThread();
          seen[static_cast<size_t>(t)].push_back(i);
          if (++total == kThreads * kFunctors) loop.quit();
        });
      }
    });
  }
  loop.loop();
  for (std::thread& thread : threads) thread.join();
  CHECK_FALSE(watchdog.fired());
  CHECK(allInLoopThread);
  for (const std::vector<int>& one : seen) {
    REQUIRE(one.size() == static_cast<size_t>(kFunctors));
    bool inOrder = true;
    for (int i = 0; i < kFunctors; ++i) inOrder &= one[static_cast<size_t>(i)] == i;
    CHECK(inOrder);
  }
  // A wake-up per batch, not per functor: far fewer than the 20000 functors.
  CHECK(loop.wakeups() < static_cast<uint64_t>(kThreads * kFunctors));
}

TEST_CASE("one eventfd write per batch: functors queued while the loop is busy join one batch") {
  EventLoop loop;
  Watchdog watchdog(&loop, 20);
  Gate running;
  Gate busy;
  int ran = 0;
  std::thread other([&] {
    loop.queueInLoop([&] {  // wakes the loop (1), which runs this and stays in it
      running.open();
      busy.wait();
    });
    running.wait();  // the loop has taken that batch: the queue is empty again
    for (int i = 0; i < 10000; ++i) {
      loop.queueInLoop([&] {  // the first finds the queue empty and wakes the loop (2)
        if (++ran == 10000) loop.quit();
      });
    }
    busy.open();
  });
  loop.loop();
  other.join();
  CHECK_FALSE(watchdog.fired());
  CHECK(ran == 10000);
  CHECK(loop.wakeups() == 2);  // 2 eventfd writes for 10001 functors
}

TEST_CASE("quit() from another thread ends a loop that waits for nothing, at once") {
  EventLoop loop;
  Watchdog watchdog(&loop, 20);  // without the wake-up, the loop would wait until this fires
  const auto started = std::chrono::steady_clock::now();
  std::thread other([&] { loop.quit(); });
  loop.loop();  // no fd will ever be ready: only the wake-up can end the wait
  other.join();
  CHECK_FALSE(watchdog.fired());
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
}

TEST_CASE("a quit() that comes before loop() starts is not lost") {
  EventLoop loop;
  Watchdog watchdog(&loop, 20);
  std::thread other([&] { loop.quit(); });
  other.join();  // quit() has happened, loop() has not started
  loop.loop();
  CHECK_FALSE(watchdog.fired());
}

TEST_CASE("functors queued before a quit() from another thread still run") {
  EventLoop loop;
  Watchdog watchdog(&loop, 20);
  Gate running;
  Gate queued;
  bool lastRan = false;
  std::thread other([&] {
    loop.queueInLoop([&] {  // the loop takes this batch and waits in it
      running.open();
      queued.wait();
    });
    running.wait();
    loop.queueInLoop([&] { lastRan = true; });  // a batch of its own, taken after...
    loop.quit();                                // ...the quit, if at all
    queued.open();
  });
  loop.loop();
  other.join();
  CHECK_FALSE(watchdog.fired());
  CHECK(lastRan);
}

TEST_CASE(
    "quitting while other threads still queue functors: the rest is dropped, nothing breaks") {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  {
    EventLoop loop;
    Watchdog watchdog(&loop, 20);
    std::atomic<int> ran{0};
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&] {
        while (!stop) loop.queueInLoop([&] { ++ran; });
      });
    }
    loop.queueInLoop([&] { loop.quit(); });
    loop.loop();
    stop = true;
    for (std::thread& thread : threads) thread.join();
    CHECK_FALSE(watchdog.fired());
  }  // ~EventLoop destroys the functors nobody ran
  SUCCEED();
}

TEST_CASE("touching a loop from another thread aborts the program (a death test, in a child)") {
  // The loop belongs to a thread of its own, kept alive (at the gate) while a child process asks
  // from its main thread; fork() copies only the calling thread, so the child must not wait for
  // the other one, and it does not: it aborts.
  std::unique_ptr<EventLoop> loop;
  Gate made;
  Gate done;
  std::thread owner([&] {
    loop = std::make_unique<EventLoop>();
    made.open();
    done.wait();
    loop.reset();  // in its own thread
  });
  made.wait();
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGABRT, SIG_DFL);  // Catch2's handler would report a failure from the child
    loop->assertInLoopThread();     // not the loop's thread: aborts
    ::_exit(0);                     // reached only if it did not abort
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  done.open();
  owner.join();
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
}

TEST_CASE("send() from another thread: the bytes are copied, sent by the loop, in call order") {
  EventLoop loop;
  Watchdog watchdog(&loop, 20);
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  auto conn = std::make_shared<TcpConnection>(&loop, 1, Socket(fds[0]), InetAddress(80, "10.0.0.1"),
                                              InetAddress(5555, "10.0.0.2"));
  conn->connectEstablished();
  std::string received;
  Channel peer(&loop, fds[1]);
  peer.setReadCallback([&] {
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(fds[1], buffer, sizeof buffer)) > 0) {
      received.append(buffer, static_cast<size_t>(n));
    }
    if (received.size() >= 1000 * 6) loop.quit();
  });
  peer.enableReading();
  std::thread other([&] {
    for (int i = 0; i < 1000; ++i) {
      std::string temporary = "[" + std::to_string(100 + i % 900) + "]";  // 5 bytes, then gone
      conn->send(temporary);
      temporary.assign(temporary.size(), 'X');  // overwritten at once: the copy went, not a view
      conn->send(std::string(1, '.'));          // a temporary, destroyed before the loop sends it
    }
  });
  loop.loop();
  other.join();
  CHECK_FALSE(watchdog.fired());
  std::string expected;
  for (int i = 0; i < 1000; ++i) expected += "[" + std::to_string(100 + i % 900) + "].";
  CHECK(received == expected);
  peer.disableAll();
  conn->connectDestroyed();
  ::close(fds[1]);
}
