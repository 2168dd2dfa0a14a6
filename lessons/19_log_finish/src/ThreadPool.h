#pragma once

// A fixed set of worker threads that run tasks from one bounded queue: work that would block the
// event loop (a database query, a call to another service, a slow computation) runs here, and the
// loop goes on serving every other connection meanwhile.
//
// muduo's ThreadPool::run() blocks its caller while the queue is full. The caller here is an event
// loop, which must never block, so tryRun() says "full" instead, and the caller applies
// back-pressure: it stops reading from the connection whose work cannot be queued, and retries when
// a task finishes. Tasks run in the order queued, but with several workers two tasks may run at the
// same time and finish in any order: a caller that needs order runs one task at a time per
// connection.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "noncopyable.h"

class ThreadPool : noncopyable {
 public:
  using Task = std::function<void()>;

  // Starts `threads` workers (at least one); at most `maxQueueSize` tasks wait for one (at least
  // one). Throws std::system_error if a thread cannot be started (the others are stopped first).
  ThreadPool(size_t threads, size_t maxQueueSize);
  // stop().
  ~ThreadPool();

  // Queues `task` for a worker unless the queue is full or the pool is stopped; from any thread,
  // never blocking. Returns whether it was queued.
  bool tryRun(Task task);

  // Takes no more tasks, drops those still waiting, lets the running ones finish and joins the
  // workers. From any thread but a worker; once is enough, more is harmless.
  void stop();

  size_t threadCount() const { return threads_.size(); }
  size_t maxQueueSize() const { return maxQueueSize_; }
  size_t queueSize() const;  // tasks waiting for a worker right now

 private:
  void workerLoop();

  const size_t maxQueueSize_;
  mutable std::mutex mutex_;
  std::condition_variable notEmpty_;  // a task waits, or the pool is stopping
  std::deque<Task> queue_;            // guarded by mutex_
  bool running_ = true;               // guarded by mutex_
  std::vector<std::thread> threads_;
};
