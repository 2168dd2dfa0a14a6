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
// addTimer() and cancel() may be called from any thread: the work is handed to the loop
// (queueInLoop), as a connection's send() is. The rest is the loop's own.

#include <cstddef>
#include <cstdint>
#include <map>
#include <unordered_map>
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
  // added. A timer added by a callback runs in a later round, never in the one running. From any
  // thread; the TimerId is known at once, the timer is added in the loop's thread.
  TimerId addTimer(TimerCallback cb, Timestamp when, double interval);

  // The timer will not run again. Cancelling a timer that has run its last, one cancelled already,
  // or a default TimerId does nothing. A timer cancelled by a callback of the round being run does
  // not run in it, even if it was due in it (muduo's issue #668). From any thread: from another
  // one, the timer may still run while this call is on its way to the loop.
  void cancel(TimerId id);

  // How many timers wait, the ones of a running round included. Loop thread; for tests and
  // benchmarks.
  size_t size() const { return index_.size(); }

 private:
  // The map's key: when, then the sequence number, so that timers due at the same instant are all
  // kept, in the order they were added.
  using Key = std::pair<Timestamp, uint64_t>;
  using Timers = std::map<Key, Timer>;

  void addTimerInLoop(uint64_t sequence, TimerCallback cb, Timestamp when, double interval);
  bool cancelInLoop(uint64_t sequence);
  void handleRead();
  // Sets the timerfd for the earliest timer, if that is not what it is set for already.
  void arm();
  void setTimerFd(Timestamp when);

  EventLoop* loop_;
  FileDescriptor timerFd_;
  Channel timerChannel_;
  Timers timers_;
  // Every waiting timer's sequence number -> where it is in the map: what finds a timer from its
  // TimerId without searching the map, and what says whether a timer of the running round has been
  // cancelled (it is no longer here). timers_.end() for the timers of the running round, which are
  // out of the map.
  std::unordered_map<uint64_t, Timers::iterator> index_;
  // The round being run: the map's own nodes, taken out and put back without allocating.
  std::vector<Timers::node_type> expired_;
  Timestamp armedFor_;  // what the timerfd is set for; Timestamp() when it is not set
};
