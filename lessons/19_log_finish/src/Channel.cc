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
  if (!tied_) {
    handleEventWithGuard();
    return;
  }
  // The guard keeps the owner alive until the handlers return, whatever they let go of. (lock()
  // fails only once the owner's destruction has begun: then nothing is handled.)
  const std::shared_ptr<void> guard = tie_.lock();
  if (guard) handleEventWithGuard();
}

void Channel::handleEventWithGuard() {
  // epoll reports a hang-up (EPOLLHUP: both directions are shut, by FINs or a reset) and an error
  // whatever we asked for. Asking for EPOLLIN, a hang-up comes with EPOLLIN, and the read callback
  // finds the end of stream or the error. Without EPOLLIN (reading stopped, a write-only fd) no
  // read callback runs, so the owner learns of the end here. Bytes the peer sent before may still
  // wait unread in the socket: EPOLLHUP says nothing about them, and they go with the connection.
  if ((revents_ & EPOLLHUP) && !(revents_ & EPOLLIN)) {
    if (closeCallback_) closeCallback_();
  }
  if (revents_ & EPOLLERR) {
    if (errorCallback_) errorCallback_();
  }
  // The peer's FIN is EPOLLIN: the read callback sees it as a read of 0. (EPOLLRDHUP would say so
  // too, but epoll reports it only to those who ask, and kReadEvent does not.)
  if (revents_ & (EPOLLIN | EPOLLPRI)) {
    if (readCallback_) readCallback_();
  }
  if (revents_ & EPOLLOUT) {
    if (writeCallback_) writeCallback_();
  }
}
