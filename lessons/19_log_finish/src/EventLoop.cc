#include "EventLoop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <system_error>
#include <utility>

#include "Logging.h"
#include "TimerQueue.h"

namespace {

int createEventFd() {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  return fd;
}

std::string describe(std::thread::id id) {
  std::ostringstream out;
  out << id;
  return out.str();
}

}  // namespace

EventLoop::EventLoop(std::string name)
    : name_(std::move(name)),
      threadId_(std::this_thread::get_id()),
      poller_(std::make_unique<Poller>()),
      wakeUpFd_(createEventFd()),
      wakeUpChannel_(this, wakeUpFd_.get()),
      timerQueue_(std::make_unique<TimerQueue>(this)) {
  wakeUpChannel_.setReadCallback([this] { handleWakeUp(); });
  wakeUpChannel_.enableReading();
}

EventLoop::~EventLoop() = default;

void EventLoop::loop() {
  assertInLoopThread();
  while (!quit_) {
    bool functorsWaiting;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      functorsWaiting = !pendingFunctors_.empty();
    }
    // Functors queued by this thread (by a functor, say) woke nobody: do not block meanwhile.
    // One queued by another thread made the eventfd readable, so the wait returns at once anyway.
    poller_->poll(functorsWaiting ? 0 : -1, &activeChannels_);
    for (Channel* channel : activeChannels_) channel->handleEvent();
    doPendingFunctors();
  }
  // Another thread may have queued functors after the last batch was taken, and then quit(): they
  // were meant to run before the end (a server's last calls to its loops), so they run now.
  doPendingFunctors();
  quit_ = false;  // after, not before: a quit() that came before loop() must not be lost
}

void EventLoop::quit() {
  quit_ = true;
  // The loop thread checks the flag at the end of its round; another thread must wake it up, or
  // the loop would wait in the poller until some fd happened to become ready.
  if (!isInLoopThread()) wakeUp();
}

void EventLoop::runInLoop(Functor cb) {
  if (isInLoopThread()) {
    cb();
  } else {
    queueInLoop(std::move(cb));
  }
}

void EventLoop::queueInLoop(Functor cb) {
  bool wasEmpty;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wasEmpty = pendingFunctors_.empty();
    pendingFunctors_.push_back(std::move(cb));
  }
  // One eventfd write per batch: only the call that finds the queue empty wakes the loop; the
  // others join a batch the loop will take in one go. The loop thread itself needs no wake-up: it
  // runs the queue before it waits again.
  if (wasEmpty && !isInLoopThread()) wakeUp();
}

TimerId EventLoop::runAt(Timestamp when, TimerCallback cb) {
  return timerQueue_->addTimer(std::move(cb), when, 0.0);
}

TimerId EventLoop::runAfter(double delay, TimerCallback cb) {
  return runAt(addTime(Timestamp::now(), delay), std::move(cb));
}

TimerId EventLoop::runEvery(double interval, TimerCallback cb) {
  return timerQueue_->addTimer(std::move(cb), addTime(Timestamp::now(), interval), interval);
}

void EventLoop::cancel(TimerId id) { timerQueue_->cancel(id); }

void EventLoop::updateChannel(Channel* channel) {
  assertInLoopThread();
  poller_->updateChannel(channel);
}

void EventLoop::removeChannel(Channel* channel) noexcept {
  assertInLoopThread();
  poller_->removeChannel(channel);
}

void EventLoop::wakeUp() {
  const uint64_t one = 1;
  // Cannot fail: only a counter about to pass 2^64 - 2 would, and every read resets it.
  const ssize_t n = ::write(wakeUpFd_.get(), &one, sizeof one);
  (void)n;
  ++wakeups_;
}

void EventLoop::handleWakeUp() {
  uint64_t count;
  const ssize_t n = ::read(wakeUpFd_.get(), &count, sizeof count);  // resets the counter to 0
  (void)n;  // EAGAIN is harmless: the functors queued are what matters, and the loop runs them
}

void EventLoop::doPendingFunctors() {
  // Swapped out under the lock, run without it: a functor may take its time, or queue another one
  // (which then runs in the next round instead of invalidating the vector being iterated over).
  // The two vectors trade places every round and keep their capacity, so that queueing allocates
  // nothing once the loop has warmed up.
  {
    std::lock_guard<std::mutex> lock(mutex_);
    runningFunctors_.swap(pendingFunctors_);
  }
  for (const Functor& functor : runningFunctors_) functor();
  runningFunctors_.clear();
}

void EventLoop::abortNotInLoopThread() const {
  LOG_FATAL << "EventLoop " << name_ << ": called from thread "
            << describe(std::this_thread::get_id()) << ", but it belongs to thread "
            << describe(threadId_);
  std::abort();  // LOG_FATAL has aborted already; the compiler does not know
}
