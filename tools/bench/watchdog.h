#pragma once

// A bound on the whole run of a benchmark program that could otherwise wait for ever (a loop that
// missed its wake-up, or whose timerfd never fired, waits in the poller). Included by
// tools/bench/xthread/xthread.cpp and tools/bench/timer/timer.cpp.

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "cli.h"

// Ends the run (program.fail) if it takes longer than `seconds`, unless finish() comes first. The
// message says `the run took longer than S s` and then what why() returns then (read when the time
// is up, so that it can say what the run was doing), e.g. ": the machine is far too busy".
class Watchdog {
 public:
  Watchdog(const Program& program, double seconds, std::function<std::string()> why)
      : thread_([this, &program, seconds, reason = std::move(why)] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (!done_.wait_for(lock, std::chrono::duration<double>(seconds),
                              [this] { return finished_; })) {
            char limit[32];
            std::snprintf(limit, sizeof limit, "%g", seconds);
            program.fail(std::string("the run took longer than ") + limit + " s" + reason());
          }
        }) {}
  ~Watchdog() { finish(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void finish() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      finished_ = true;
    }
    done_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  bool finished_ = false;  // guarded by mutex_
  std::thread thread_;     // last: it starts once the members it uses exist
};
