#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "Catch.h"
#include "ThreadPool.h"

namespace {

// A gate the test opens: tasks that wait on it keep their workers busy until then.
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

// Counts finished tasks; waitFor(n) waits until n have finished (bounded: false after 10 s).
class Counter {
 public:
  void add() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++count_;
    }
    changed_.notify_all();
  }
  bool waitFor(int n) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return count_ >= n; });
  }
  int count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int count_ = 0;
};

}  // namespace

TEST_CASE("every task runs, on the pool's threads, not the caller's") {
  std::mutex mutex;
  std::set<std::thread::id> ids;
  Counter done;
  ThreadPool pool(3, 1000);
  for (int i = 0; i < 300; ++i) {
    REQUIRE(pool.tryRun([&] {
      {
        std::lock_guard<std::mutex> lock(mutex);
        ids.insert(std::this_thread::get_id());
      }
      done.add();
    }));
  }
  REQUIRE(done.waitFor(300));
  pool.stop();
  CHECK(ids.count(std::this_thread::get_id()) == 0);
  CHECK(ids.size() >= 1);
  CHECK(ids.size() <= 3);
}

TEST_CASE("tasks run at the same time on different workers") {
  Gate gate;
  Counter started;
  ThreadPool pool(4, 16);  // last: its workers, which use the above, are joined first
  for (int i = 0; i < 4; ++i) {
    REQUIRE(pool.tryRun([&] {
      started.add();
      gate.wait();  // only returns once all four are running: none waits for another to finish
    }));
  }
  CHECK(started.waitFor(4));
  gate.open();
}

TEST_CASE("a full queue refuses a task at once instead of blocking the caller") {
  Gate gate;
  Counter started;
  ThreadPool pool(1, 2);
  REQUIRE(pool.tryRun([&] {
    started.add();
    gate.wait();
  }));
  REQUIRE(started.waitFor(1));  // the worker is busy: what follows waits in the queue
  CHECK(pool.tryRun([] {}));
  CHECK(pool.tryRun([] {}));
  const auto before = std::chrono::steady_clock::now();
  CHECK_FALSE(pool.tryRun([] {}));  // the third: refused
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(1));
  gate.open();
}

TEST_CASE(
    "stop drops the waiting tasks, lets the running one finish, and "
    "refuses new ones") {
  Gate gate;
  Counter started;
  std::atomic<int> ran{0};
  ThreadPool pool(1, 10);
  REQUIRE(pool.tryRun([&] {
    started.add();
    gate.wait();
    ++ran;
  }));
  REQUIRE(started.waitFor(1));
  for (int i = 0; i < 5; ++i) REQUIRE(pool.tryRun([&] { ++ran; }));
  std::thread opener([&] {
    // stop() waits for the running task, which waits for the gate: open it from elsewhere, once
    // stop() has emptied the queue (nothing else can: the only worker is held at the gate).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (pool.queueSize() != 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    gate.open();
  });
  pool.stop();
  opener.join();
  CHECK(ran == 1);  // the running task finished; the five waiting ones were dropped
  CHECK_FALSE(pool.tryRun([&] { ++ran; }));
  pool.stop();  // a second stop is harmless
}

TEST_CASE("a task that throws does not take its worker with it") {
  Counter done;
  ThreadPool pool(1, 10);
  REQUIRE(pool.tryRun([] { throw std::runtime_error("deliberately"); }));
  REQUIRE(pool.tryRun([&] { done.add(); }));
  CHECK(done.waitFor(1));
}

TEST_CASE("many threads queue tasks at once: none is lost or run twice") {
  constexpr int kThreads = 4;
  constexpr int kTasks = 2000;
  std::atomic<int> ran{0};
  std::atomic<int> refused{0};
  {
    ThreadPool pool(3, 64);
    std::vector<std::thread> callers;
    for (int t = 0; t < kThreads; ++t) {
      callers.emplace_back([&] {
        for (int i = 0; i < kTasks; ++i) {
          while (!pool.tryRun([&] { ++ran; })) {
            ++refused;
            std::this_thread::yield();  // full: another try, as a loop would on its next round
          }
        }
      });
    }
    for (std::thread& caller : callers) caller.join();
    // Every task was queued; wait (bounded) until the workers have run them all.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (ran < kThreads * kTasks && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
  }
  CHECK(ran == kThreads * kTasks);
}
