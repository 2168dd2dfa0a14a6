// Cross-thread calls into an EventLoop: how many functors per second other threads can hand a loop
// (EventLoop::queueInLoop) and have run there, and how many eventfd writes that took per functor.
//
// The loop runs in the main thread. K producer threads, released together, each queue F functors;
// each functor increments a counter that only the loop's thread touches. The producer that
// finishes last calls quit(), from its own thread. The time runs from the producers' release until
// loop() returns, by when it must have run all K*F functors: a loop that returns with fewer has
// lost some (lessons 12 and later promise that functors queued before quit() still run), and the
// run fails. wakeups() / (K*F) says how well the loop batches: 1 would be one eventfd write per
// functor; lesson 12 writes only when a call finds the queue empty. The wake-up of quit() is in the
// count. An untimed round of at most 100,000 functors per producer comes first (a warm-up: the
// queue's vectors reach their size), and is left out of every figure.
//
// Built against one lesson's own src/ by tools/bench/xthread/CMakeLists.txt (lessons 12 and later
// have queueInLoop and wakeups()), and run by tools/bench/xthread-bench.
//
// Exit codes: 0 ok; 1 the loop did not run every functor, or the run took longer than --timeout
// seconds; 2 bad usage.
//
//   xthread [--producers 1] [--functors 1000000] [--timeout 60]
//
// The last line is machine-readable:
// `result producers=... functors=... seconds=... functors_per_s=... wakeups=...
// wakeups_per_functor=...` (functors: K*F, all producers' together).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "EventLoop.h"
#include "cli.h"
#include "watchdog.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int producers = 1;
  int functors = 1000000;  // per producer
  double timeout = 60;
};

const Program kProgram("xthread");

constexpr int kWarmUpFunctors = 100000;  // per producer, at most

Options parseOptions(int argc, char* argv[]) {
  Options o;
  const CommandLine commandLine(kProgram, {{"--producers", "K", &o.producers, 1, 64},
                                           {"--functors", "F", &o.functors, 1, 100000000},
                                           {"--timeout", "S", &o.timeout, 1, 3600}});
  commandLine.parse(argc, argv);
  return o;
}

struct Round {
  double seconds = 0;
  uint64_t ran = 0;      // functors the loop ran
  uint64_t wakeups = 0;  // eventfd writes during the round
};

// One round: `producers` threads each queue `functors` functors into `loop`, the last one quits it;
// the calling thread, the loop's own, runs the loop meanwhile.
Round runRound(EventLoop* loop, int producers, int functors) {
  uint64_t counter = 0;  // the loop thread's alone: only the functors touch it
  std::atomic<bool> go{false};
  std::atomic<int> running{producers};
  std::vector<std::thread> threads;
  for (int k = 0; k < producers; ++k) {
    threads.emplace_back([&] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      for (int i = 0; i < functors; ++i) loop->queueInLoop([&counter] { ++counter; });
      if (running.fetch_sub(1) == 1) loop->quit();
    });
  }
  Round round;
  const uint64_t wakeupsBefore = loop->wakeups();
  const Clock::time_point start = Clock::now();
  go.store(true, std::memory_order_release);
  loop->loop();
  round.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (std::thread& t : threads) t.join();
  round.ran = counter;
  round.wakeups = loop->wakeups() - wakeupsBefore;
  return round;
}

void check(const Round& round, uint64_t expected, const char* which) {
  if (round.ran != expected) {
    kProgram.fail(std::string(which) + " round: loop() returned after running " +
                  std::to_string(round.ran) + " of " + std::to_string(expected) +
                  " functors: it lost some that were queued before quit()");
  }
}

}  // namespace

int main(int argc, char* argv[]) {
  const Options o = parseOptions(argc, argv);
  const uint64_t total = static_cast<uint64_t>(o.producers) * static_cast<uint64_t>(o.functors);
  std::printf(
      "xthread: %d producer threads, %d functors each, queued into the main thread's loop\n",
      o.producers, o.functors);
  std::fflush(stdout);

  // A loop that missed a wake-up would wait in the poller for ever.
  Watchdog watchdog(kProgram, o.timeout, [] {
    return std::string(": the loop missed a wake-up, or the machine is far too busy");
  });
  EventLoop loop;
  const int warmUp = std::min(o.functors, kWarmUpFunctors);
  check(runRound(&loop, o.producers, warmUp), static_cast<uint64_t>(o.producers) * warmUp,
        "warm-up");
  const Round round = runRound(&loop, o.producers, o.functors);
  check(round, total, "measured");
  watchdog.finish();

  const double perSecond = static_cast<double>(total) / round.seconds;
  const double wakeupsPerFunctor = static_cast<double>(round.wakeups) / static_cast<double>(total);
  std::printf("xthread: %.0f functors/s, %llu eventfd writes (%.6f per functor) in %.3f s\n",
              perSecond, static_cast<unsigned long long>(round.wakeups), wakeupsPerFunctor,
              round.seconds);
  std::printf(
      "result producers=%d functors=%llu seconds=%.6f functors_per_s=%.1f wakeups=%llu "
      "wakeups_per_functor=%.8f\n",
      o.producers, static_cast<unsigned long long>(total), round.seconds, perSecond,
      static_cast<unsigned long long>(round.wakeups), wakeupsPerFunctor);
  return 0;
}
