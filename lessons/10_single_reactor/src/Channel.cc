#include "Channel.h"

#include <sys/epoll.h>

#include "EventLoop.h"

const uint32_t Channel::kNoneEvent = 0;
const uint32_t Channel::kReadEvent = EPOLLIN | EPOLLPRI;
const uint32_t Channel::kWriteEvent = EPOLLOUT;

Channel::~Channel() {
  if (inPoller_) loop_->removeChannel(this);
}

void Channel::update(uint32_t events) {
  events_ = events;
  loop_->updateChannel(this);
}

void Channel::handleEvent() {
  // The peer hung up and there is nothing left to read: no read will tell us, so say it here.
  if ((revents_ & EPOLLHUP) && !(revents_ & EPOLLIN)) {
    if (closeCallback_) closeCallback_();
  }
  if (revents_ & EPOLLERR) {
    if (errorCallback_) errorCallback_();
  }
  // EPOLLRDHUP: the peer shut down its writing side; the read callback sees it as a read of 0.
  if (revents_ & (EPOLLIN | EPOLLPRI | EPOLLRDHUP)) {
    if (readCallback_) readCallback_();
  }
  if (revents_ & EPOLLOUT) {
    if (writeCallback_) writeCallback_();
  }
}
