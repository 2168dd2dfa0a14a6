#include "EventLoopThreadPool.h"

#include <string>

#include "EventLoop.h"

EventLoopThreadPool::EventLoopThreadPool(EventLoop* baseLoop, int numThreads)
    : baseLoop_(baseLoop), numThreads_(numThreads) {}

EventLoopThreadPool::~EventLoopThreadPool() = default;  // each EventLoopThread quits and joins

void EventLoopThreadPool::start() {
  baseLoop_->assertInLoopThread();
  for (int i = 0; i < numThreads_; ++i) {
    threads_.push_back(std::make_unique<EventLoopThread>("io loop " + std::to_string(i + 1)));
    loops_.push_back(threads_.back()->startLoop());
  }
}

EventLoop* EventLoopThreadPool::getNextLoop() {
  baseLoop_->assertInLoopThread();
  if (loops_.empty()) return baseLoop_;
  EventLoop* loop = loops_[next_];
  next_ = (next_ + 1) % loops_.size();
  return loop;
}

std::vector<EventLoop*> EventLoopThreadPool::getAllLoops() const {
  return loops_.empty() ? std::vector<EventLoop*>{baseLoop_} : loops_;
}
