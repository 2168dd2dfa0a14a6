#pragma once

// A thread that runs an EventLoop of its own: a sub-Reactor. The loop is made inside the thread,
// so that it belongs to that thread (EventLoop::isInLoopThread), and lives on its stack for as long
// as the thread runs.

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "noncopyable.h"

class EventLoop;

class EventLoopThread : noncopyable {
 public:
  explicit EventLoopThread(std::string name = "");
  // Quits the loop, if it runs, and joins the thread. What the loop had queued still runs in its
  // last round; what is queued after that is destroyed unrun, with the loop.
  ~EventLoopThread();

  // Starts the thread and waits until its loop exists; returns it. Once only. Throws
  // std::system_error if the thread or the loop cannot be made.
  EventLoop* startLoop();

  const std::string& name() const { return name_; }

 private:
  void threadFunc();

  const std::string name_;
  std::mutex mutex_;
  std::condition_variable ready_;
  EventLoop* loop_ = nullptr;  // guarded by mutex_; set while the loop exists
  bool failed_ = false;        // guarded by mutex_: the loop could not be made
  std::thread thread_;
};
