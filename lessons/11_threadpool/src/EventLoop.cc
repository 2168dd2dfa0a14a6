#include "EventLoop.h"

#include "Channel.h"

EventLoop::EventLoop() : poller_(std::make_unique<Poller>()) {}

EventLoop::~EventLoop() = default;

void EventLoop::loop() {
  quit_ = false;
  while (!quit_) {
    // Functors queued by functors wait for the next round: do not block in the poller meanwhile.
    poller_->poll(pendingFunctors_.empty() ? -1 : 0, &activeChannels_);
    for (Channel* channel : activeChannels_) channel->handleEvent();
    doPendingFunctors();
  }
}

void EventLoop::doPendingFunctors() {
  // Swapped out first: a functor may queue another one, which then runs in the next round instead
  // of invalidating the vector we are iterating over. The two vectors trade places every round and
  // keep their capacity, so that queueing a functor per message (a write complete) allocates
  // nothing once the loop has warmed up.
  runningFunctors_.swap(pendingFunctors_);
  for (const Functor& functor : runningFunctors_) functor();
  runningFunctors_.clear();
}
