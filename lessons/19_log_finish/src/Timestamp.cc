#include "Timestamp.h"

#include <time.h>

#include <cmath>
#include <limits>

Timestamp Timestamp::now() {
  timespec ts{};
  // Cannot fail with a valid clock id and pointer; and in the vDSO, so no system call either.
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return Timestamp(static_cast<int64_t>(ts.tv_sec) * kMicrosecondsPerSecond + ts.tv_nsec / 1000);
}

Timestamp addTime(Timestamp t, double seconds) {
  // Far enough for any delay (about 292,000 years either way), and far from int64_t's ends, so
  // that neither the conversion below nor the sum can overflow.
  constexpr double kLimit = 1e16;
  double delta = std::isnan(seconds) ? 0.0 : seconds * Timestamp::kMicrosecondsPerSecond;
  if (delta > kLimit) delta = kLimit;
  if (delta < -kLimit) delta = -kLimit;
  return Timestamp(t.microseconds() + static_cast<int64_t>(delta));
}
