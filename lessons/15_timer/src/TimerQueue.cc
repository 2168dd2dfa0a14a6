#include "TimerQueue.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <system_error>

#include "EventLoop.h"

namespace {

// One counter for the whole process, so that no two timers of any loop share a TimerId.
std::atomic<uint64_t> lastSequence{0};

int createTimerFd() {
  // CLOCK_MONOTONIC, as Timestamp: a change of the date neither fires nor delays a timer.
  const int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "timerfd_create");
  return fd;
}

}  // namespace

TimerQueue::TimerQueue(EventLoop* loop)
    : loop_(loop), timerFd_(createTimerFd()), timerChannel_(loop, timerFd_.get()) {
  timerChannel_.setReadCallback([this] { handleRead(); });
  timerChannel_.enableReading();
}

TimerQueue::~TimerQueue() = default;  // the Channel leaves the poller before the fd closes

TimerId TimerQueue::addTimer(TimerCallback cb, Timestamp when, double interval) {
  loop_->assertInLoopThread();
  const uint64_t sequence = ++lastSequence;
  timers_.try_emplace(Key(when, sequence), std::move(cb), interval);
  arm();
  return TimerId(sequence);
}

void TimerQueue::handleRead() {
  uint64_t expirations;
  // Resets the timerfd's count. EAGAIN (it was set again since it fired) is harmless: what is due
  // is decided by the clock below, not by the count.
  const ssize_t n = ::read(timerFd_.get(), &expirations, sizeof expirations);
  (void)n;
  armedFor_ = Timestamp();  // it has fired: no longer set

  // The round: everything due by now, taken out of the map before any callback runs. A timer a
  // callback adds goes into the map, for a later round, even one due "now": a callback that
  // re-adds itself for now cannot keep this loop here forever.
  const Timestamp now = Timestamp::now();
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    expired_.push_back(timers_.extract(timers_.begin()));
  }
  for (const Timers::node_type& node : expired_) node.mapped().run();
  // A repeating timer goes back in for its next time, from when it was due: the callback's own
  // run time does not add up over the periods. If the loop was so late that whole periods have
  // passed, it skips them (runs once, not once per missed period) and keeps to its phase.
  for (Timers::node_type& node : expired_) {
    const Timer& timer = node.mapped();
    if (!timer.repeats()) continue;
    Timestamp next = addTime(node.key().first, timer.interval());
    if (next <= now) {
      const int64_t period = addTime(Timestamp(), timer.interval()).microseconds();
      if (period > 0) {
        const int64_t missed = (now.microseconds() - next.microseconds()) / period + 1;
        next = Timestamp(next.microseconds() + missed * period);
      } else {
        next = Timestamp(now.microseconds() + 1);  // shorter than a microsecond: as soon as can be
      }
    }
    node.key().first = next;
    timers_.insert(std::move(node));
  }
  expired_.clear();  // frees the one-shot timers, and their callbacks
  arm();
}

void TimerQueue::arm() {
  if (timers_.empty()) return;  // nothing to wake up for (the timerfd has fired: it is not set)
  // The earliest time the timerfd can be set for is 1 us (see setTimerFd).
  const Timestamp earliest = std::max(timers_.begin()->first.first, Timestamp(1));
  if (armedFor_.valid() && armedFor_ <= earliest) return;  // it fires in time for that one anyway
  setTimerFd(earliest);
  armedFor_ = earliest;
}

void TimerQueue::setTimerFd(Timestamp when) {
  // An absolute time on the timerfd's clock: no "how long from now" to compute, and so no error
  // from the time it takes to compute it. A time that has passed fires at once; but an all-zero
  // it_value would unset the timer instead, hence arm()'s 1 us after the clock's 0.
  const int64_t us = when.microseconds();
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(us / Timestamp::kMicrosecondsPerSecond);
  spec.it_value.tv_nsec = static_cast<long>(us % Timestamp::kMicrosecondsPerSecond * 1000);
  if (::timerfd_settime(timerFd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) < 0) {
    // Only with a bad fd or value, a bug of ours; a timer that never fires would hide it.
    throw std::system_error(errno, std::generic_category(), "timerfd_settime");
  }
}
