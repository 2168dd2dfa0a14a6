#pragma once

// What addTimer() returns: the name of one timer, to cancel it by (lesson 16). A sequence number
// unique in the process, never a pointer: a pointer to a timer that has run and been freed could
// name a new timer allocated at the same address, and a cancel meant for the old one would stop the
// new one. A default TimerId names no timer; cancelling it does nothing.

#include <cstdint>

class TimerId {
 public:
  constexpr TimerId() = default;
  explicit constexpr TimerId(uint64_t sequence) : sequence_(sequence) {}

  constexpr uint64_t sequence() const { return sequence_; }

  friend constexpr bool operator==(TimerId a, TimerId b) { return a.sequence_ == b.sequence_; }
  friend constexpr bool operator!=(TimerId a, TimerId b) { return !(a == b); }

 private:
  uint64_t sequence_ = 0;  // 0: no timer; the first timer is 1
};
