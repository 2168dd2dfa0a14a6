#pragma once

// One timer: what to run, and every how many seconds if it repeats. When it is due is not here:
// it is the key under which the TimerQueue keeps it, and changes each time a repeating timer is
// scheduled again.

#include <utility>

#include "Callbacks.h"
#include "noncopyable.h"

class Timer : noncopyable {
 public:
  // Repeats every `interval` seconds if `interval` > 0; runs once otherwise.
  Timer(TimerCallback callback, double interval)
      : callback_(std::move(callback)), interval_(interval) {}

  void run() const { callback_(); }
  bool repeats() const { return interval_ > 0.0; }
  double interval() const { return interval_; }

 private:
  const TimerCallback callback_;
  const double interval_;
};
