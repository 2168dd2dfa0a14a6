#pragma once

// The event loop: wait for ready Channels, call their handlers, repeat until asked to quit. It owns
// the Poller; Channels register with the loop, not with the poller, so that the loop is the one
// place that decides what runs when.
//
// A loop belongs to the thread that creates it, and only that thread may run it or touch what it
// serves (its Channels, and the connections that own them). Other threads talk to it through
// runInLoop/queueInLoop: they hand it a function, which it runs in its own thread, woken up by an
// eventfd if it is waiting in the poller. quit() may come from any thread too.
//
// It also keeps time: a TimerQueue runs callbacks when they are due, woken up by a timerfd like any
// other fd, so that waiting for the next timer is just waiting in the poller. runAt, runAfter,
// runEvery and cancel may be called from any thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "Callbacks.h"
#include "Channel.h"
#include "FileDescriptor.h"
#include "Poller.h"
#include "TimerId.h"
#include "Timestamp.h"
#include "noncopyable.h"

class TimerQueue;

class EventLoop : noncopyable {
 public:
  using Functor = std::function<void()>;

  // Belongs to the calling thread. `name` says which loop it is, in what the server prints. Throws
  // std::system_error if the poller, the eventfd or the timerfd cannot be made.
  explicit EventLoop(std::string name = "main loop");
  ~EventLoop();

  // Runs until quit(), in the loop's thread. Each round: wait for ready channels, handle each, then
  // run the functors queued so far.
  void loop();
  // Ends the loop after the current round; from any thread. The functors queued before quit() still
  // run. A quit() before loop() starts makes it return at once.
  void quit();

  // Runs `cb` in the loop's thread: at once when called there, else queued (queueInLoop).
  void runInLoop(Functor cb);
  // Runs `cb` in the loop's thread after the handlers of the current round (or of the next, if the
  // loop is waiting: it is woken up). From any thread. What `cb` captures crosses threads: copies
  // and owners, never a pointer into the caller's stack or buffers.
  void queueInLoop(Functor cb);

  // Timers (see TimerQueue.h), from any thread; the callbacks run in the loop's thread.
  // Runs `cb` once at `when`; in the next round if `when` has passed.
  TimerId runAt(Timestamp when, TimerCallback cb);
  // Runs `cb` once, `delay` seconds from now.
  TimerId runAfter(double delay, TimerCallback cb);
  // Runs `cb` every `interval` seconds, the first time `interval` seconds from now, on schedule: a
  // late run does not delay the next ones. Once only if `interval` <= 0.
  TimerId runEvery(double interval, TimerCallback cb);
  // The timer will not run again; harmless for one that has run its last or a default TimerId.
  // From another thread, it may still run while the cancel is on its way.
  void cancel(TimerId id);

  const std::string& name() const { return name_; }
  bool isInLoopThread() const { return threadId_ == std::this_thread::get_id(); }
  // Aborts the program, naming the threads, if called outside the loop's thread: touching the
  // loop's objects from another thread is a data race, a bug to find at once, not to survive.
  void assertInLoopThread() const {
    if (!isInLoopThread()) abortNotInLoopThread();
  }

  // For Channel: keep the poller in step with what the channel wants. Loop thread only.
  void updateChannel(Channel* channel);
  void removeChannel(Channel* channel) noexcept;

  // How many times another thread has woken the loop up (eventfd writes), for the benchmarks.
  uint64_t wakeups() const { return wakeups_; }

 private:
  void wakeUp();
  void handleWakeUp();
  void doPendingFunctors();
  [[noreturn]] void abortNotInLoopThread() const;

  const std::string name_;
  const std::thread::id threadId_;
  std::atomic<bool> quit_{false};
  std::atomic<uint64_t> wakeups_{0};
  // In this order: the wake-up Channel leaves the poller before the poller goes, and before its fd
  // is closed.
  std::unique_ptr<Poller> poller_;
  FileDescriptor wakeUpFd_;
  Channel wakeUpChannel_;
  std::unique_ptr<TimerQueue>
      timerQueue_;  // its Channel too leaves the poller before the poller goes
  Poller::ChannelList activeChannels_;
  std::mutex mutex_;
  std::vector<Functor> pendingFunctors_;  // guarded by mutex_
  std::vector<Functor> runningFunctors_;  // the loop thread's, while they run (see the .cc)
};
