#include "ThreadPool.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "Logging.h"

ThreadPool::ThreadPool(size_t threads, size_t maxQueueSize)
    : maxQueueSize_(std::max<size_t>(maxQueueSize, 1)) {
  threads_.reserve(std::max<size_t>(threads, 1));
  try {
    for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i) {
      threads_.emplace_back([this] { workerLoop(); });
    }
  } catch (...) {
    stop();  // a destructor would not run: join the workers already started, or terminate()
    throw;
  }
}

ThreadPool::~ThreadPool() { stop(); }

bool ThreadPool::tryRun(Task task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!running_ || queue_.size() >= maxQueueSize_) return false;
    queue_.push_back(std::move(task));
  }
  notEmpty_.notify_one();  // after unlocking, so that the woken worker does not wait for the lock
  return true;
}

size_t ThreadPool::queueSize() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    running_ = false;
    queue_.clear();
  }
  notEmpty_.notify_all();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

void ThreadPool::workerLoop() {
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // The predicate guards against spurious wake-ups and against a notify that came before the
      // wait: the condition is checked under the lock, so nothing is missed.
      notEmpty_.wait(lock, [this] { return !running_ || !queue_.empty(); });
      if (!running_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    // Without the lock: tasks run in parallel. A task that throws must not take its worker (and,
    // through std::terminate, the whole server) with it: report and go on.
    try {
      task();
    } catch (const std::exception& e) {
      LOG_ERROR << "thread pool: a task threw: " << e.what();
    } catch (...) {
      LOG_ERROR << "thread pool: a task threw something that is not a std::exception";
    }
  }
}
