#pragma once

// A Channel is one file descriptor as the event loop sees it: the events we want from it and what
// to do when they happen. The Poller puts the Channel's address in epoll_event.data.ptr, so a ready
// event leads straight to its handler: no lookup by fd, no switch in the loop.
//
// A Channel does not own its fd (a Socket does); it must be destroyed before the fd is closed, and
// never from inside its own handleEvent(). An owner held by a shared_ptr (a TcpConnection) ensures
// it with tie(): while a handler runs, the Channel holds a reference to its owner.

#include <cstdint>
#include <functional>
#include <memory>

#include "noncopyable.h"

class EventLoop;

class Channel : noncopyable {
 public:
  using EventCallback = std::function<void()>;

  Channel(EventLoop* loop, int fd) : loop_(loop), fd_(fd) {}
  ~Channel();  // leaves the poller if still in it, so that no event can reach a destroyed Channel

  // Calls the callbacks that match the events the poller reported (revents). Tied, only while the
  // owner exists, holding a reference to it until the last callback has returned.
  void handleEvent();
  // Ties the Channel to the object that owns it, by a weak reference. A handler may let go of the
  // owner's last other reference (a close callback that drops the connection): without the tie the
  // owner, and this Channel with it, would be destroyed while handleEvent() is still running.
  void tie(const std::shared_ptr<void>& owner) {
    tie_ = owner;
    tied_ = true;
  }

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
  void handleEventWithGuard();

  EventLoop* loop_;
  const int fd_;
  uint32_t events_ = 0;   // what we ask epoll for
  uint32_t revents_ = 0;  // what epoll reported
  bool inPoller_ = false;
  std::weak_ptr<void> tie_;  // the owner, if tied: weak, or it could never be destroyed
  bool tied_ = false;
  EventCallback readCallback_;
  EventCallback writeCallback_;
  EventCallback closeCallback_;
  EventCallback errorCallback_;
};
