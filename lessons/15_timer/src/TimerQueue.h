#pragma once

// The timers of one EventLoop, on one timerfd. The timers wait in a std::map ordered by when they
// are due; the timerfd is set (as an absolute time on CLOCK_MONOTONIC) for the earliest one, so the
// loop's poller wakes up exactly when something is due, and sleeps as long as it likes otherwise:
// no poll timeout to compute each round, no thread sleeping beside the loop.
//
// When the timerfd fires, every timer due by then is taken out of the map at once (a "round"), and
// run in order; a repeating one goes back in for its next time, counted from the time it was due,
// not from when it ran, so that a slow callback or a busy loop does not make it drift.
//
// The loop's own: every call in the loop's thread (they abort elsewhere).

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "Callbacks.h"
#include "Channel.h"
#include "FileDescriptor.h"
#include "Timer.h"
#include "TimerId.h"
#include "Timestamp.h"
#include "noncopyable.h"

class EventLoop;

class TimerQueue : noncopyable {
 public:
  // Throws std::system_error if the timerfd cannot be made.
  explicit TimerQueue(EventLoop* loop);
  ~TimerQueue();

  // Runs `cb` at `when` (at once, in the loop's next round, if `when` has passed), then every
  // `interval` seconds if `interval` > 0. Timers due at the same instant run in the order they were
  // added. A timer added by a callback runs in a later round, never in the one running.
  TimerId addTimer(TimerCallback cb, Timestamp when, double interval);

  // How many timers wait in the map (between rounds: all of them). For tests and benchmarks.
  size_t size() const { return timers_.size(); }

 private:
  // The map's key: when, then the sequence number, so that timers due at the same instant are all
  // kept, in the order they were added.
  using Key = std::pair<Timestamp, uint64_t>;
  using Timers = std::map<Key, Timer>;

  void handleRead();
  // Sets the timerfd for the earliest timer, if that is not what it is set for already.
  void arm();
  void setTimerFd(Timestamp when);

  EventLoop* loop_;
  FileDescriptor timerFd_;
  Channel timerChannel_;
  Timers timers_;
  // The round being run: the map's own nodes, taken out and put back without allocating.
  std::vector<Timers::node_type> expired_;
  Timestamp armedFor_;  // what the timerfd is set for; Timestamp() when it is not set
};
