#pragma once

// A point in time, in microseconds on CLOCK_MONOTONIC: the clock the timers run on. It counts from
// some moment at boot and only ever goes forward, at the same pace whatever is done to the date:
// a timer set for "5 s from now" fires 5 s from now even if an administrator or NTP moves the
// wall clock meanwhile. It is not a date, and means nothing outside this machine's uptime; what
// shows a date (the log lines of lesson 17) reads the wall clock for that.

#include <cstdint>

class Timestamp {
 public:
  static constexpr int64_t kMicrosecondsPerSecond = 1000 * 1000;

  // Time 0, before anything this process can see: "no time", as a default TimerId's.
  constexpr Timestamp() = default;
  explicit constexpr Timestamp(int64_t microseconds) : microseconds_(microseconds) {}

  static Timestamp now();

  constexpr int64_t microseconds() const { return microseconds_; }
  constexpr bool valid() const { return microseconds_ > 0; }

  friend constexpr bool operator<(Timestamp a, Timestamp b) {
    return a.microseconds_ < b.microseconds_;
  }
  friend constexpr bool operator>(Timestamp a, Timestamp b) { return b < a; }
  friend constexpr bool operator<=(Timestamp a, Timestamp b) { return !(b < a); }
  friend constexpr bool operator>=(Timestamp a, Timestamp b) { return !(a < b); }
  friend constexpr bool operator==(Timestamp a, Timestamp b) {
    return a.microseconds_ == b.microseconds_;
  }
  friend constexpr bool operator!=(Timestamp a, Timestamp b) { return !(a == b); }

 private:
  int64_t microseconds_ = 0;
};

// `t` moved by `seconds` (negative: earlier), to the microsecond. Saturates instead of
// overflowing: a delay of 1e300 seconds is "never" in practice, not undefined behaviour; NaN is 0.
Timestamp addTime(Timestamp t, double seconds);

// high - low, in seconds.
inline double timeDifference(Timestamp high, Timestamp low) {
  return static_cast<double>(high.microseconds() - low.microseconds()) /
         Timestamp::kMicrosecondsPerSecond;
}
