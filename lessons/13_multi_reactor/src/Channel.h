#pragma once

// A Channel is one file descriptor as the event loop sees it: the events we want from it and what
// to do when they happen. The Poller puts the Channel's address in epoll_event.data.ptr, so a ready
// event leads straight to its handler: no lookup by fd, no switch in the loop.
//
// A Channel does not own its fd (a Socket does); it must be destroyed before the fd is closed, and
// never from inside its own handleEvent(): the owner defers that with EventLoop::queueInLoop.

#include <cstdint>
#include <functional>

#include "noncopyable.h"

class EventLoop;

class Channel : noncopyable {
 public:
  using EventCallback = std::function<void()>;

  Channel(EventLoop* loop, int fd) : loop_(loop), fd_(fd) {}
  ~Channel();  // leaves the poller if still in it, so that no event can reach a destroyed Channel

  // Calls the callbacks that match the events the poller reported (revents).
  void handleEvent();

  void setReadCallback(EventCallback cb) { readCallback_ = std::move(cb); }
  void setWriteCallback(EventCallback cb) { writeCallback_ = std::move(cb); }
  void setCloseCallback(EventCallback cb) { closeCallback_ = std::move(cb); }
  void setErrorCallback(EventCallback cb) { errorCallback_ = std::move(cb); }

  void enableReading() { update(events_ | kReadEvent); }
  void disableReading() { update(events_ & ~kReadEvent); }
  void enableWriting() { update(events_ | kWriteEvent); }
  void disableWriting() { update(events_ & ~kWriteEvent); }
  // Wanting nothing takes the fd out of the epoll set (see Poller::updateChannel).
  void disableAll() { update(kNoneEvent); }

  int fd() const { return fd_; }
  uint32_t events() const { return events_; }
  bool isNoneEvent() const { return events_ == kNoneEvent; }
  bool isReading() const { return (events_ & kReadEvent) != 0; }
  bool isWriting() const { return (events_ & kWriteEvent) != 0; }

  // For the Poller: what epoll reported, and whether the fd is in the epoll set.
  void setRevents(uint32_t revents) { revents_ = revents; }
  bool inPoller() const { return inPoller_; }
  void setInPoller(bool in) { inPoller_ = in; }

 private:
  static const uint32_t kNoneEvent;
  static const uint32_t kReadEvent;
  static const uint32_t kWriteEvent;

  void update(uint32_t events);

  EventLoop* loop_;
  const int fd_;
  uint32_t events_ = 0;   // what we ask epoll for
  uint32_t revents_ = 0;  // what epoll reported
  bool inPoller_ = false;
  EventCallback readCallback_;
  EventCallback writeCallback_;
  EventCallback closeCallback_;
  EventCallback errorCallback_;
};
