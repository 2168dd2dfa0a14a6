#include <time.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "Catch.h"
#include "Timestamp.h"

namespace {

int64_t monotonicMicroseconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

}  // namespace

TEST_CASE("Timestamp::now() reads CLOCK_MONOTONIC, in microseconds") {
  // Between two readings of the monotonic clock; the wall clock (seconds since 1970) would be
  // decades past both.
  const int64_t before = monotonicMicroseconds();
  const Timestamp now = Timestamp::now();
  const int64_t after = monotonicMicroseconds();
  CHECK(before <= now.microseconds());
  CHECK(now.microseconds() <= after);
  CHECK(now.valid());
}

TEST_CASE("Timestamp::now() never goes back") {
  Timestamp last = Timestamp::now();
  for (int i = 0; i < 100000; ++i) {
    const Timestamp now = Timestamp::now();
    REQUIRE(last <= now);
    last = now;
  }
}

TEST_CASE("addTime moves a Timestamp by seconds, to the microsecond, either way") {
  const Timestamp t(5000000);
  CHECK(addTime(t, 1.5).microseconds() == 6500000);
  CHECK(addTime(t, -2.0).microseconds() == 3000000);
  CHECK(addTime(t, 0.000001).microseconds() == 5000001);
  CHECK(addTime(t, 0.0) == t);
  CHECK(timeDifference(addTime(t, 2.25), t) == 2.25);
  CHECK(timeDifference(t, addTime(t, 2.25)) == -2.25);
}

TEST_CASE("addTime saturates instead of overflowing, and takes NaN as 0") {
  const Timestamp t = Timestamp::now();
  // UBSan would report the overflow of a plain conversion of 1e300 * 1e6 to int64_t.
  CHECK(addTime(t, 1e300) > addTime(t, 1e9));
  CHECK(addTime(t, std::numeric_limits<double>::infinity()) > t);
  CHECK(addTime(t, -1e300) < t);
  CHECK(addTime(t, std::nan("")) == t);
}

TEST_CASE("Timestamps compare by time; the default one is invalid and earliest") {
  const Timestamp zero;
  CHECK_FALSE(zero.valid());
  CHECK(zero < Timestamp(1));
  CHECK(Timestamp(1) > zero);
  CHECK(Timestamp(7) == Timestamp(7));
  CHECK(Timestamp(7) != Timestamp(8));
  CHECK(Timestamp(7) <= Timestamp(7));
  CHECK(Timestamp(7) >= Timestamp(7));
}
