// The user's timer API (EventLoop::runAt, runAfter, runEvery, cancel), and the cases that break
// other timer implementations.

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "Catch.h"
#include "EventLoop.h"
#include "TimerQueue.h"
#include "Timestamp.h"
#include "Watchdog.h"

TEST_CASE("a default-constructed EventLoop runs runAt, runAfter and runEvery timers") {
  EventLoop loop;
  Watchdog watchdog(&loop, 10);
  std::vector<char> ran;
  int every = 0;
  loop.runAt(addTime(Timestamp::now(), 0.010), [&] { ran.push_back('a'); });
  loop.runAfter(0.020, [&] { ran.push_back('b'); });
  loop.runEvery(0.005, [&] {
    if (++every == 8) ran.push_back('e');
  });
  loop.runAfter(0.100, [&] { loop.quit(); });
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  CHECK(ran == std::vector<char>{'a', 'b', 'e'});
  CHECK(every >= 8);
}

TEST_CASE("a repeating timer can cancel itself from its own callback") {
  EventLoop loop;
  Watchdog watchdog(&loop, 10);
  int runs = 0;
  TimerId self;
  self = loop.runEvery(0.005, [&] {
    if (++runs == 3) loop.cancel(self);
  });
  loop.runAfter(0.100, [&] { loop.quit(); });  // 20 periods: time enough to run again, wrongly
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  CHECK(runs == 3);
}

TEST_CASE("a timer cancelled by another callback of the same round does not run (muduo #668)") {
  // Both are due at the same instant, so one round runs both, A first (added first). muduo takes
  // the round's timers out of its set and runs them all: B runs although A cancelled it.
  EventLoop loop;
  Watchdog watchdog(&loop, 10);
  const Timestamp when = addTime(Timestamp::now(), 0.010);
  std::vector<char> ran;
  TimerId b;
  loop.runAt(when, [&] {
    ran.push_back('A');
    loop.cancel(b);
  });
  b = loop.runAt(when, [&] { ran.push_back('B'); });
  loop.runAfter(0.050, [&] { loop.quit(); });
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  CHECK(ran == std::vector<char>{'A'});
}

TEST_CASE("a repeating timer cancelled by another callback of its round neither runs nor returns") {
  // The EventLoop API starts a repeating timer one interval from now; the TimerQueue underneath
  // takes any first time, here the same as its canceller's.
  EventLoop loop;
  TimerQueue timers(&loop);
  Watchdog watchdog(&loop, 10);
  const Timestamp when = addTime(Timestamp::now(), 0.010);
  int runs = 0;
  TimerId repeating;
  timers.addTimer([&] { timers.cancel(repeating); }, when, 0);
  repeating = timers.addTimer([&] { ++runs; }, when, 0.005);
  loop.runAfter(0.100, [&] { loop.quit(); });
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  CHECK(runs == 0);
  CHECK(timers.size() == 0);
}

TEST_CASE("cancelling a timer that has run, twice, or a default TimerId does nothing else") {
  EventLoop loop;
  Watchdog watchdog(&loop, 10);
  int ran = 0;
  bool otherRan = false;
  const TimerId done = loop.runAfter(0.0, [&] { ++ran; });
  loop.runAfter(0.010, [&] {
    loop.cancel(done);  // has run
    loop.cancel(done);  // again
    loop.cancel(TimerId());
  });
  loop.runAfter(0.030, [&] { otherRan = true; });  // pending meanwhile: must not be hit
  const TimerId cancelledTwice = loop.runAfter(0.040, [&] { ++ran; });
  loop.cancel(cancelledTwice);
  loop.cancel(cancelledTwice);
  loop.runAfter(0.060, [&] { loop.quit(); });
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  CHECK(ran == 1);
  CHECK(otherRan);
}

TEST_CASE("runAfter(0) from a callback runs in a later round, and cannot trap the loop") {
  EventLoop loop;
  Watchdog watchdog(&loop, 10);
  std::vector<char> order;
  loop.runAfter(0.0, [&] {
    order.push_back('A');
    loop.runAfter(0.0, [&] { order.push_back('B'); });
    loop.queueInLoop([&] { order.push_back('F'); });  // after this round's handlers
  });
  int chain = 0;
  std::function<void()> again = [&] {
    ++chain;
    loop.runAfter(0.0, again);
  };
  loop.runAfter(0.0, again);
  loop.runAfter(0.050, [&] { loop.quit(); });
  loop.loop();
  CHECK_FALSE(watchdog.fired());  // the quit timer ran although the chain is always due
  CHECK(order == std::vector<char>{'A', 'F', 'B'});
  CHECK(chain > 1);
}

TEST_CASE("many timers at one instant, and timers in the past, all run, in the order added") {
  EventLoop loop;
  Watchdog watchdog(&loop, 10);
  std::vector<int> order;
  const Timestamp when = addTime(Timestamp::now(), 0.010);
  for (int i = 0; i < 500; ++i) loop.runAt(when, [&order, i] { order.push_back(i); });
  loop.runAt(Timestamp(), [&] { order.insert(order.begin(), -2); });  // the clock's 0: long past
  loop.runAfter(-5.0, [&] { order.insert(order.begin(), -1); });
  loop.runAt(when, [&] { loop.quit(); });
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  REQUIRE(order.size() == 502);
  CHECK(order[0] == -1);  // run second, inserted in front: the past ones ran first, 0 first
  CHECK(order[1] == -2);
  CHECK(std::is_sorted(order.begin() + 2, order.end()));
}

TEST_CASE("runEvery with an interval of 0 or less runs once") {
  EventLoop loop;
  Watchdog watchdog(&loop, 10);
  int runs = 0;
  loop.runEvery(0.0, [&] { ++runs; });
  loop.runEvery(-1.0, [&] { ++runs; });
  loop.runAfter(0.050, [&] { loop.quit(); });
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  CHECK(runs == 2);
}

TEST_CASE("runAfter and cancel from other threads while the loop runs: in the loop's thread") {
  // Once the loop runs, 2 threads each add 200 timers due 0.2 s later and cancel every other one
  // right after adding it: the cancel follows the add to the loop, long before the timer is due.
  // When the 200 kept ones have run, the loop goes on for as long again, for a cancelled one to run
  // if it wrongly could. A ThreadSanitizer build checks the hand-off.
  EventLoop loop;
  Watchdog watchdog(&loop, 20);
  const std::thread::id loopThread = std::this_thread::get_id();
  int kept = 0;
  int cancelledRan = 0;
  int wrongThread = 0;
  std::vector<std::thread> threads;
  loop.runAfter(0.0, [&] {
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 200; ++i) {
          const bool cancelIt = i % 2 == 1;
          const TimerId id = loop.runAfter(0.2, [&, cancelIt] {
            if (std::this_thread::get_id() != loopThread) ++wrongThread;
            ++(cancelIt ? cancelledRan : kept);
            if (kept == 200 && !cancelIt) loop.runAfter(0.3, [&] { loop.quit(); });
          });
          if (cancelIt) loop.cancel(id);
        }
      });
    }
  });
  loop.loop();
  for (std::thread& thread : threads) thread.join();
  CHECK_FALSE(watchdog.fired());
  CHECK(kept == 200);
  CHECK(cancelledRan == 0);
  CHECK(wrongThread == 0);
}

TEST_CASE("cancel in the loop's thread of a timer whose add from another thread still waits") {
  // The loop is busy in a callback while another thread adds a timer: the add waits in the loop's
  // queue. The TimerId reaches the loop's thread directly (not through the loop), which cancels
  // it at once: the timer is not there yet, and must still never run.
  EventLoop loop;
  Watchdog watchdog(&loop, 10);
  bool ran = false;
  loop.runAfter(0.0, [&] {
    std::atomic<uint64_t> published{0};
    std::thread other([&] { published = loop.runAfter(0.050, [&] { ran = true; }).sequence(); });
    other.join();
    loop.cancel(TimerId(published));
  });
  loop.runAfter(0.200, [&] { loop.quit(); });
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  CHECK_FALSE(ran);
}
