#include "TimerQueue.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <system_error>
#include <tuple>

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
  // The number is taken here, in the caller's thread, so that the caller can cancel at once: the
  // cancel is handed to the loop after the add, and the loop runs them in that order.
  const uint64_t sequence = ++lastSequence;
  if (loop_->isInLoopThread()) {
    addTimerInLoop(sequence, std::move(cb), when, interval);  // no functor to make and allocate
  } else {
    loop_->queueInLoop([this, sequence, cb = std::move(cb), when, interval]() mutable {
      addTimerInLoop(sequence, std::move(cb), when, interval);
    });
  }
  return TimerId(sequence);
}

void TimerQueue::cancel(TimerId id) {
  const uint64_t sequence = id.sequence();
  if (!loop_->isInLoopThread()) {
    loop_->queueInLoop([this, sequence] { cancelInLoop(sequence); });
  } else if (!cancelInLoop(sequence)) {
    // Not found: it has run or never was; or another thread's addTimer() for it still waits in
    // the loop's queue (its TimerId reached this thread some other way, before the add ran). Once
    // more after the functors queued so far, then: after that add, which was queued before the
    // TimerId existed. Harmless in the other cases.
    loop_->queueInLoop([this, sequence] { cancelInLoop(sequence); });
  }
}

void TimerQueue::addTimerInLoop(uint64_t sequence, TimerCallback cb, Timestamp when,
                                double interval) {
  loop_->assertInLoopThread();
  // A timer due after every other one (a fixed delay from now, the usual case) goes at the end
  // without a search: the hint makes that insertion constant time.
  const auto position = timers_.emplace_hint(timers_.end(), std::piecewise_construct,
                                             std::forward_as_tuple(when, sequence),
                                             std::forward_as_tuple(std::move(cb), interval));
  index_.emplace(sequence, position);
  arm();
}

bool TimerQueue::cancelInLoop(uint64_t sequence) {
  loop_->assertInLoopThread();
  const auto found = index_.find(sequence);
  if (found == index_.end()) return false;  // ran its last, cancelled already, or no timer at all
  // In the map, unless it belongs to the round being run: then it is in expired_, and handleRead()
  // skips it, or does not put it back, because it is no longer in the index. The timerfd stays set
  // for it: firing for nothing costs less than a system call to set it again.
  if (found->second != timers_.end()) timers_.erase(found->second);
  index_.erase(found);
  return true;
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
    index_.find(timers_.begin()->first.second)->second = timers_.end();  // out of the map
    expired_.push_back(timers_.extract(timers_.begin()));
  }
  for (Timers::node_type& node : expired_) {
    const auto found = index_.find(node.key().second);
    // Cancelled by a callback that ran before it in this round: it was due, but must not run.
    if (found == index_.end()) continue;
    if (!node.mapped().repeats()) index_.erase(found);  // it has run, as far as anyone asks
    node.mapped().run();
  }
  // A repeating timer goes back in for its next time, from when it was due: the callback's own
  // run time does not add up over the periods. If the loop was so late that whole periods have
  // passed, it skips them (runs once, not once per missed period) and keeps to its phase. One
  // cancelled meanwhile, by itself or another callback, is not in the index: it stays out.
  for (Timers::node_type& node : expired_) {
    const Timer& timer = node.mapped();
    if (!timer.repeats()) continue;
    const auto found = index_.find(node.key().second);
    if (found == index_.end()) continue;
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
    found->second = timers_.insert(std::move(node)).position;
  }
  expired_.clear();  // frees the one-shot timers, and their callbacks
  arm();
}

void TimerQueue::arm() {
  // With no timer left, the timerfd stays set: firing for nothing finds nothing due, which costs
  // less than a system call to unset it each time the last timer goes.
  if (timers_.empty()) return;
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
