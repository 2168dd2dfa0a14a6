#pragma once

// Closes the connections of one loop that have been idle for `timeout` seconds: the timing wheel of
// muduo's examples/idleconnection (after Varghese and Lauck), with the work moved off the path of
// every message.
//
// A message costs one hash lookup, one reading of the clock (CLOCK_MONOTONIC, in the vDSO: no
// system call) and one store: touch() notes when the connection last spoke. No allocation, no
// timer re-armed. The wheel has one bucket per tick (a second in the server) of the timeout, and
// one more, turned by a repeating timer of the loop. Each connection sits in one bucket; when the
// wheel comes round to it, a connection idle for `timeout` is closed, and one that has spoken
// meanwhile moves to the bucket of the tick when it will have been silent for `timeout`. So a
// connection that keeps talking is looked at about once per timeout, not once per message.
//
// Idle means: nothing received, nothing of its output written (a slow reader draining a large
// reply is busy), and not held open by the server (holdClose: work in progress for it). The last
// two are asked only of a connection that is due.
//
// A connection is closed `timeout` to `timeout` + 1 tick after it went quiet, plus the loop's
// lateness: never before, since what is compared is the clock, not a count of ticks.
//
// Every call in the loop's thread, like the connection callbacks that make them. The wheel must
// outlive the loop's last round (its timer calls it), and is destroyed once the loop has stopped.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "Callbacks.h"
#include "Timestamp.h"
#include "noncopyable.h"

class EventLoop;

class TimingWheel : noncopyable {
 public:
  // Who turns the wheel: a repeating timer of the loop, or the owner, calling tick() (a test does,
  // to turn it exactly, on a clock of its own).
  enum class Turn { kByTimer, kByHand };

  // The timeout is `timeoutTicks` (at least 1) ticks of `tickSeconds` (more than 0). The timer is
  // started from any thread (the loop's runEvery()), so that a server can make a wheel for each of
  // its I/O loops from the main thread before they serve anyone.
  TimingWheel(EventLoop* loop, int timeoutTicks, double tickSeconds = 1.0,
              Turn turn = Turn::kByTimer);

  // A new connection: its silence counts from now.
  void add(const TcpConnectionPtr& conn, Timestamp now = Timestamp::now());
  // The connection received something: its silence starts again.
  void touch(const TcpConnectionPtr& conn, Timestamp now = Timestamp::now());
  // The connection is closed: forget it.
  void remove(const TcpConnectionPtr& conn);

  // Turns the wheel by one tick, at `now`: closes the connections of the bucket that are idle.
  void tick(Timestamp now = Timestamp::now());

  // How many connections the wheel watches, and how many it has closed. For tests and benchmarks.
  size_t size() const { return entries_.size(); }
  uint64_t closedCount() const { return closed_; }

 private:
  struct Entry {
    std::weak_ptr<TcpConnection> conn;
    Timestamp lastActive;  // its last message, its arrival, or the last time it was seen held
  };

  std::vector<uint64_t>& bucketOf(uint64_t tick) { return buckets_[tick % buckets_.size()]; }

  EventLoop* loop_;
  const int64_t tickMicroseconds_;
  const int64_t timeoutMicroseconds_;
  uint64_t now_ = 0;                             // ticks run since the wheel started
  std::unordered_map<uint64_t, Entry> entries_;  // by connection id
  // Connection ids, a bucket per tick; each connection in one of them. The vectors keep their
  // capacity: once each has held as many as it will, moving connections allocates nothing.
  std::vector<std::vector<uint64_t>> buckets_;
  uint64_t closed_ = 0;
};
