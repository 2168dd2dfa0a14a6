#pragma once

// The sub-Reactors: N threads, each running an EventLoop of its own, that a TcpServer hands its
// new connections to, one after the other (round robin). With N = 0 there are none, and every
// connection stays on the base loop: the single Reactor of lessons 10-12.

#include <cstddef>
#include <memory>
#include <vector>

#include "EventLoopThread.h"
#include "noncopyable.h"

class EventLoop;

class EventLoopThreadPool : noncopyable {
 public:
  EventLoopThreadPool(EventLoop* baseLoop, int numThreads);
  // Quits every loop and joins every thread.
  ~EventLoopThreadPool();

  // Starts the threads and waits until every loop exists. In the base loop's thread, once.
  void start();
  // The loop for the next connection: each thread's in turn, or the base loop if there are none.
  // In the base loop's thread.
  EventLoop* getNextLoop();
  // Every loop a connection may be given: the threads' loops, or just the base loop.
  std::vector<EventLoop*> getAllLoops() const;

 private:
  EventLoop* const baseLoop_;
  const int numThreads_;
  size_t next_ = 0;
  std::vector<std::unique_ptr<EventLoopThread>> threads_;
  std::vector<EventLoop*> loops_;
};
