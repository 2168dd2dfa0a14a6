#pragma once

// The event loop: wait for ready Channels, call their handlers, repeat until asked to quit. It owns
// the Poller; Channels register with the loop, not with the poller, so that the loop is the one
// place that decides what runs when. One loop per thread (lesson 13 runs several).

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "Poller.h"
#include "noncopyable.h"

class Channel;

class EventLoop : noncopyable {
 public:
  using Functor = std::function<void()>;

  EventLoop();
  ~EventLoop();

  // Runs until quit(). Each round: wait for ready channels, handle each, then run queued functors.
  void loop();
  // Ends the loop after the current round. Here it is called from a handler inside the loop;
  // lesson 12 adds a wake-up so that another thread can call it too.
  void quit() { quit_ = true; }

  // Runs `cb` after the handlers of the current round, e.g. to destroy an object whose handler is
  // still running. Only from the loop's own thread until lesson 12.
  void queueInLoop(Functor cb) { pendingFunctors_.push_back(std::move(cb)); }

  // For Channel: keep the poller in step with what the channel wants.
  void updateChannel(Channel* channel) { poller_->updateChannel(channel); }
  void removeChannel(Channel* channel) noexcept { poller_->removeChannel(channel); }

 private:
  void doPendingFunctors();

  std::atomic<bool> quit_{false};
  std::unique_ptr<Poller> poller_;
  Poller::ChannelList activeChannels_;
  std::vector<Functor> pendingFunctors_;
  std::vector<Functor> runningFunctors_;  // the round's functors while they run (see the .cc)
};
