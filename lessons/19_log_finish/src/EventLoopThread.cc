#include "EventLoopThread.h"

#include <pthread.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include "EventLoop.h"
#include "Logging.h"

EventLoopThread::EventLoopThread(std::string name) : name_(std::move(name)) {}

EventLoopThread::~EventLoopThread() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Under the lock: the loop cannot be destroyed meanwhile (threadFunc clears loop_ first).
    if (loop_ != nullptr) loop_->quit();
  }
  if (thread_.joinable()) thread_.join();
}

EventLoop* EventLoopThread::startLoop() {
  thread_ = std::thread([this] { threadFunc(); });
  std::unique_lock<std::mutex> lock(mutex_);
  ready_.wait(lock, [this] { return loop_ != nullptr || failed_; });
  if (failed_) throw std::system_error(EAGAIN, std::generic_category(), "event loop of " + name_);
  return loop_;
}

void EventLoopThread::threadFunc() {
  // The thread's name, as ps -T and /proc/PID/task/TID/comm show it (at most 15 characters).
  ::pthread_setname_np(::pthread_self(), name_.substr(0, 15).c_str());
  try {
    EventLoop loop(name_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      loop_ = &loop;
    }
    ready_.notify_one();
    loop.loop();
    std::lock_guard<std::mutex> lock(mutex_);
    loop_ = nullptr;  // before the loop is destroyed, at the end of this block
  } catch (const std::system_error& e) {
    // No loop (no epoll or eventfd left), or its poller broke. A loop that runs catches what its
    // connections do; this is the loop itself, and its thread cannot go on.
    LOG_ERROR << name_ << ": " << e.what();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      loop_ = nullptr;
      failed_ = true;
    }
    ready_.notify_one();
  }
}
