#pragma once

// Bounds a test that runs an EventLoop until something happens: if it has not happened within
// `seconds`, SIGALRM ends the loop, and the test fails on its assertions instead of hanging until
// ctest's timeout. One at a time (alarm() is per process).

#include <unistd.h>

#include <csignal>

#include "EventLoop.h"
#include "SignalWatcher.h"
#include "noncopyable.h"

class Watchdog : noncopyable {
 public:
  Watchdog(EventLoop* loop, unsigned seconds)
      : watcher_(loop, {SIGALRM}, [this, loop](int) {
          fired_ = true;
          loop->quit();
        }) {
    ::alarm(seconds);
  }
  ~Watchdog() { ::alarm(0); }

  bool fired() const { return fired_; }

 private:
  bool fired_ = false;
  SignalWatcher watcher_;
};
