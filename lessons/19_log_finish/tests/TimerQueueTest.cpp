#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "Catch.h"
#include "EventLoop.h"
#include "TimerQueue.h"
#include "Timestamp.h"
#include "Watchdog.h"

namespace {

// Keeps the loop thread busy, as a slow callback would (sleeping would do too, but this is exact).
void busyFor(double seconds) {
  const Timestamp until = addTime(Timestamp::now(), seconds);
  while (Timestamp::now() < until) {
  }
}

}  // namespace

TEST_CASE("timers run in the order they are due, not the order they were added") {
  EventLoop loop;
  TimerQueue timers(&loop);  // a queue of its own beside the loop's, to look at its size
  Watchdog watchdog(&loop, 10);
  const Timestamp start = Timestamp::now();
  std::vector<int> order;
  timers.addTimer(
      [&] {
        order.push_back(30);
        loop.quit();
      },
      addTime(start, 0.030), 0);
  timers.addTimer([&] { order.push_back(10); }, addTime(start, 0.010), 0);
  timers.addTimer([&] { order.push_back(20); }, addTime(start, 0.020), 0);
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  CHECK(order == std::vector<int>{10, 20, 30});
}

TEST_CASE("a timer never runs before it is due") {
  EventLoop loop;
  TimerQueue timers(&loop);
  Watchdog watchdog(&loop, 10);
  std::vector<Timestamp> due;
  std::vector<Timestamp> ran;
  for (int i = 1; i <= 20; ++i) {
    const Timestamp when = addTime(Timestamp::now(), 0.003 * i);
    due.push_back(when);
    timers.addTimer(
        [&, i] {
          ran.push_back(Timestamp::now());
          if (i == 20) loop.quit();
        },
        when, 0);
  }
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  REQUIRE(ran.size() == due.size());
  for (size_t i = 0; i < ran.size(); ++i) CHECK(ran[i] >= due[i]);
}

TEST_CASE("timers due at the same instant all run, in the order they were added") {
  EventLoop loop;
  TimerQueue timers(&loop);
  Watchdog watchdog(&loop, 10);
  const Timestamp when = addTime(Timestamp::now(), 0.010);
  std::vector<int> order;
  for (int i = 0; i < 1000; ++i) timers.addTimer([&order, i] { order.push_back(i); }, when, 0);
  timers.addTimer([&] { loop.quit(); }, when, 0);
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  REQUIRE(order.size() == 1000);
  CHECK(std::is_sorted(order.begin(), order.end()));
}

TEST_CASE("a timer due in the past runs in the next round") {
  EventLoop loop;
  TimerQueue timers(&loop);
  Watchdog watchdog(&loop, 10);
  std::vector<int> order;
  timers.addTimer([&] { order.push_back(1); }, addTime(Timestamp::now(), -10.0), 0);
  timers.addTimer([&] { order.push_back(2); }, Timestamp(), 0);  // time 0: long past, not "unset"
  timers.addTimer([&] { loop.quit(); }, addTime(Timestamp::now(), -5.0), 0);
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  CHECK(order == std::vector<int>{2, 1});
}

TEST_CASE("a timer added by a callback for now runs in a later round, not in the running one") {
  EventLoop loop;
  TimerQueue timers(&loop);
  Watchdog watchdog(&loop, 10);
  std::vector<char> order;
  timers.addTimer(
      [&] {
        order.push_back('A');
        timers.addTimer(
            [&] {
              order.push_back('B');
              loop.quit();
            },
            Timestamp::now(), 0);
        // A functor queued now runs after this round's handlers: before B, if B is not run by
        // this round.
        loop.queueInLoop([&] { order.push_back('F'); });
      },
      Timestamp::now(), 0);
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  CHECK(order == std::vector<char>{'A', 'F', 'B'});
}

TEST_CASE("a callback that re-adds itself for now does not keep the loop from other work") {
  EventLoop loop;
  TimerQueue timers(&loop);
  Watchdog watchdog(&loop, 10);
  int again = 0;
  std::function<void()> reAdd = [&] {
    ++again;
    timers.addTimer(reAdd, Timestamp::now(), 0);
  };
  timers.addTimer(reAdd, Timestamp::now(), 0);
  timers.addTimer([&] { loop.quit(); }, addTime(Timestamp::now(), 0.050), 0);
  loop.loop();
  CHECK_FALSE(watchdog.fired());  // the quit timer ran: the chain did not take the loop over
  CHECK(again > 1);
}

TEST_CASE("10,000 timers at random times all run, each once, in the order they are due") {
  EventLoop loop;
  TimerQueue timers(&loop);
  Watchdog watchdog(&loop, 20);
  std::mt19937 rng(15);
  std::uniform_int_distribution<int64_t> offset(0, 200000);  // within 0.2 s
  const Timestamp start = Timestamp::now();
  const int kTimers = 10000;
  std::vector<Timestamp> ranFor;
  Timestamp last;
  for (int i = 0; i < kTimers; ++i) {
    const Timestamp when(start.microseconds() + offset(rng));
    last = std::max(last, when);
    timers.addTimer([&ranFor, when] { ranFor.push_back(when); }, when, 0);
  }
  timers.addTimer([&] { loop.quit(); }, addTime(last, 0.001), 0);
  CHECK(timers.size() == kTimers + 1);
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  CHECK(ranFor.size() == kTimers);
  CHECK(std::is_sorted(ranFor.begin(), ranFor.end()));
  CHECK(timers.size() == 0);  // one-shot timers are gone once they have run
}

TEST_CASE("a repeating timer runs every interval until the loop stops, and stays queued") {
  EventLoop loop;
  TimerQueue timers(&loop);
  Watchdog watchdog(&loop, 10);
  std::vector<Timestamp> ran;
  const Timestamp first = addTime(Timestamp::now(), 0.010);
  timers.addTimer(
      [&] {
        ran.push_back(Timestamp::now());
        if (ran.size() == 5) loop.quit();
      },
      first, 0.010);
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  REQUIRE(ran.size() == 5);
  for (size_t i = 0; i < ran.size(); ++i) CHECK(ran[i] >= addTime(first, 0.010 * i));
  CHECK(timers.size() == 1);
}

TEST_CASE("a repeating timer keeps its phase after a late run: the later runs are on time") {
  // A 100 ms timer; before its 3rd run, another callback holds the loop for 60 ms, so that run
  // comes about 55 ms late. Scheduled from when it ran (muduo's now + interval), every later run
  // would be 55 ms late too; scheduled from when it was due, they are back on time.
  EventLoop loop;
  TimerQueue timers(&loop);
  Watchdog watchdog(&loop, 10);
  const double kPeriod = 0.100;
  const Timestamp first = addTime(Timestamp::now(), kPeriod);
  std::vector<double> lateness;  // of each run, after its planned time: first + k periods
  timers.addTimer(
      [&] {
        const Timestamp planned = addTime(first, kPeriod * static_cast<double>(lateness.size()));
        lateness.push_back(timeDifference(Timestamp::now(), planned));
        if (lateness.size() == 10) loop.quit();
      },
      first, kPeriod);
  timers.addTimer([&] { busyFor(0.060); }, addTime(first, 2 * kPeriod - 0.005), 0);
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  REQUIRE(lateness.size() == 10);
  CHECK(lateness[2] >= 0.050);  // the late one
  std::vector<double> later(lateness.begin() + 3, lateness.end());
  std::sort(later.begin(), later.end());
  CHECK(later[later.size() / 2] < 0.025);  // the median of the 7 after it: a loaded machine's
                                           // lateness, not the 55 ms a drifting timer keeps
}

TEST_CASE("a repeating timer that missed periods runs once for them, not once for each") {
  // A 10 ms timer, and a callback that holds the loop for 150 ms: 15 periods are missed. Caught up
  // one by one, they would all run within a few milliseconds of the stall's end.
  EventLoop loop;
  TimerQueue timers(&loop);
  Watchdog watchdog(&loop, 10);
  const double kPeriod = 0.010;
  std::vector<Timestamp> ran;
  Timestamp stallEnd;
  timers.addTimer([&] { ran.push_back(Timestamp::now()); }, addTime(Timestamp::now(), kPeriod),
                  kPeriod);
  timers.addTimer(
      [&] {
        busyFor(0.150);
        stallEnd = Timestamp::now();
      },
      addTime(Timestamp::now(), 0.035), 0);
  timers.addTimer([&] { loop.quit(); }, addTime(Timestamp::now(), 0.300), 0);
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  REQUIRE(stallEnd.valid());
  const Timestamp windowEnd = addTime(stallEnd, kPeriod / 2);
  const auto inWindow = std::count_if(ran.begin(), ran.end(),
                                      [&](Timestamp t) { return t >= stallEnd && t < windowEnd; });
  CHECK(inWindow <= 2);  // the late one, and perhaps the next on schedule
}

TEST_CASE("the loop has a TimerQueue of its own: runAt() wakes the loop when the time comes") {
  // Nothing else happens: the loop waits in the poller, and only the timerfd can wake it up.
  EventLoop loop;
  Watchdog watchdog(&loop, 10);
  const Timestamp when = addTime(Timestamp::now(), 0.050);
  Timestamp ran;
  loop.runAt(when, [&] {
    ran = Timestamp::now();
    loop.quit();
  });
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  CHECK(ran >= when);
}
