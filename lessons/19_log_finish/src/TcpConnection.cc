#include "TcpConnection.h"

#include <sys/socket.h>

#include <cerrno>
#include <system_error>

#include "EventLoop.h"
#include "Logging.h"

TcpConnection::TcpConnection(EventLoop* loop, uint64_t id, Socket socket,
                             const InetAddress& localAddr, const InetAddress& peerAddr)
    : loop_(loop),
      id_(id),
      socket_(std::move(socket)),
      channel_(loop, socket_.fd()),
      localAddr_(localAddr),
      peerAddr_(peerAddr) {
  channel_.setReadCallback([this] { handleRead(); });
  channel_.setWriteCallback([this] { handleWrite(); });
  channel_.setCloseCallback([this] { handleClose(); });
  channel_.setErrorCallback([this] { handleError(); });
}

TcpConnection::~TcpConnection() = default;

std::string TcpConnection::name() const { return peerAddr_.toIpPort() + "#" + std::to_string(id_); }

void TcpConnection::connectEstablished() {
  loop_->assertInLoopThread();
  // From now on a handler that lets go of the connection (a close) cannot destroy it under itself.
  channel_.tie(shared_from_this());
  channel_.enableReading();
  state_ = State::kConnected;
  if (connectionCallback_) connectionCallback_(shared_from_this());
}

void TcpConnection::connectDestroyed() {
  loop_->assertInLoopThread();
  if (state_ == State::kDisconnected) return;  // handleClose has reported it already
  state_ = State::kDisconnected;
  channel_.disableAll();
  if (connectionCallback_) connectionCallback_(shared_from_this());
}

void TcpConnection::send(std::string_view data) {
  if (loop_->isInLoopThread()) {
    sendInLoop(data);
  } else {
    // Another thread: the bytes are copied now, into the functor, because the caller's buffer may
    // be gone by the time the loop runs it (a view into it would be a use after free). So may the
    // connection's last other owner: the functor holds a reference.
    loop_->runInLoop(
        [self = shared_from_this(), message = std::string(data)] { self->sendInLoop(message); });
  }
}

void TcpConnection::send(Buffer* buffer) {
  if (loop_->isInLoopThread()) {
    sendInLoop(std::string_view(buffer->peek(), buffer->readableBytes()));
    buffer->retrieveAll();
  } else {
    loop_->runInLoop([self = shared_from_this(), message = buffer->retrieveAllAsString()] {
      self->sendInLoop(message);
    });
  }
}

void TcpConnection::sendInLoop(std::string_view data) {
  loop_->assertInLoopThread();
  if (state_ != State::kConnected) return;  // shut down or closed: nothing more may be sent
  size_t written = 0;
  // Nothing waiting: try the socket first, which spares copying into the output buffer. With
  // something waiting, writing now would overtake it.
  if (!channel_.isWriting() && outputBuffer_.readableBytes() == 0) {
    // MSG_NOSIGNAL: a write to a reset peer fails with EPIPE instead of raising SIGPIPE, whose
    // default action would end the whole program. A library cannot rely on its program ignoring it.
    const ssize_t n = ::send(socket_.fd(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      written = static_cast<size_t>(n);
      if (n > 0) lastWrite_ = Timestamp::now();
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      // e.g. EPIPE: the peer is gone. Its end of stream or reset closes the connection.
      LOG_SYSWARN(errno) << "write to " << name();
      return;
    }  // EAGAIN or EINTR: nothing written; all of it waits for handleWrite, which retries
  }
  const size_t remaining = data.size() - written;
  if (remaining == 0) {
    if (writeCompleteCallback_) queueWriteComplete();
    return;
  }
  const size_t before = outputBuffer_.readableBytes();
  outputBuffer_.append(data.data() + written, remaining);
  if (!channel_.isWriting() && !changeEvents(&Channel::enableWriting)) return;  // closed
  // After appending, so that a callback that sends again does not cross the mark a second time.
  const size_t pending = before + remaining;
  if (highWaterMarkCallback_ && before < highWaterMark_ && pending >= highWaterMark_) {
    highWaterMarkCallback_(shared_from_this(), pending);
  }
}

void TcpConnection::shutdown() {
  if (loop_->isInLoopThread()) {
    shutdownInLoop();
  } else {
    loop_->runInLoop([self = shared_from_this()] { self->shutdownInLoop(); });
  }
}

void TcpConnection::shutdownInLoop() {
  loop_->assertInLoopThread();
  if (state_ != State::kConnected) return;
  state_ = State::kDisconnecting;
  if (!channel_.isWriting()) socket_.shutdownWrite();  // else handleWrite does it once drained
}

void TcpConnection::forceClose() {
  loop_->queueInLoop([self = shared_from_this()] { self->forceCloseInLoop(); });
}

void TcpConnection::forceCloseInLoop() {
  loop_->assertInLoopThread();
  handleClose();  // nothing if it has closed meanwhile
}

void TcpConnection::holdClose(bool hold) {
  loop_->assertInLoopThread();
  closeHeld_ = hold;
  // Let go after the peer's end of stream with nothing left to write: what it waited for is done.
  if (!hold && peerClosed_ && !channel_.isWriting()) handleClose();
}

void TcpConnection::stopRead() {
  loop_->assertInLoopThread();
  if (channel_.isReading()) changeEvents(&Channel::disableReading);
}

void TcpConnection::startRead() {
  loop_->assertInLoopThread();
  // Not after the peer's end of stream: it would be reported again and again (level-triggered).
  if (!peerClosed_ && state_ != State::kDisconnected && !channel_.isReading()) {
    changeEvents(&Channel::enableReading);
  }
}

// From the loop, after this round's handlers, not from inside send(): a callback that sends its
// next piece on write complete would otherwise call send() from send() for as long as the socket
// takes the pieces, a recursion without a bound. The functor holds a reference: the connection may
// close, and its other owners let go, before it runs.
void TcpConnection::queueWriteComplete() {
  loop_->queueInLoop([self = shared_from_this()] {
    // Output sent since, which the socket did not take, waits: handleWrite() reports the write
    // complete once that is out. Reporting it now would say "all written" with bytes still waiting.
    if (self->state_ == State::kDisconnected || self->outputBuffer_.readableBytes() > 0) return;
    if (self->writeCompleteCallback_) self->writeCompleteCallback_(self);
  });
}

// The kernel may refuse to change what the Channel watches (epoll_ctl: ENOMEM, or ENOSPC when an
// ADD goes past fs.epoll.max_user_watches). This connection then cannot go on, but the loop and
// every other connection can: report it and close this one. Returns false if it was closed.
bool TcpConnection::changeEvents(void (Channel::*change)()) {
  try {
    (channel_.*change)();
    return true;
  } catch (const std::system_error& e) {
    LOG_ERROR << name() << ": " << e.what() << ": closing the connection";
    handleClose();
    return false;
  }
}

void TcpConnection::handleRead() {
  loop_->assertInLoopThread();
  const ssize_t n = inputBuffer_.readFd(socket_.fd());
  if (n > 0) {
    // The callback consumes what it can use (whole messages) and leaves the rest for next time.
    // Without a callback nothing ever would: the bytes are discarded, not kept without bound.
    if (messageCallback_) {
      messageCallback_(shared_from_this(), &inputBuffer_);
    } else {
      inputBuffer_.retrieveAll();
    }
    inputBuffer_.shrink();  // an idle connection keeps no buffer memory
  } else if (n == 0) {
    // The peer sent FIN: it will send no more, but may still read. Close once our output is out,
    // and the output still being made elsewhere too (holdClose).
    peerClosed_ = true;
    if (outputBuffer_.readableBytes() == 0 && !closeHeld_) {
      handleClose();
    } else {
      changeEvents(&Channel::disableReading);  // end of stream stays readable: stop hearing it
    }
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    LOG_SYSWARN(errno) << "read from " << name();
    handleClose();  // e.g. ECONNRESET
  }
}

void TcpConnection::handleWrite() {
  loop_->assertInLoopThread();
  if (!channel_.isWriting()) return;  // closed in this round, or nothing was waiting
  const ssize_t n =
      ::send(socket_.fd(), outputBuffer_.peek(), outputBuffer_.readableBytes(), MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    LOG_SYSWARN(errno) << "write to " << name();
    handleClose();  // e.g. EPIPE or ECONNRESET: the peer is gone, and so is what it did not read
    return;
  }
  outputBuffer_.retrieve(static_cast<size_t>(n));
  lastWrite_ = Timestamp::now();
  if (outputBuffer_.readableBytes() > 0) return;  // the socket is full again; wait for EPOLLOUT
  // Drained: stop watching EPOLLOUT, which an empty send buffer would report on every round.
  if (!changeEvents(&Channel::disableWriting)) return;  // closed
  outputBuffer_.shrink();
  if (writeCompleteCallback_) writeCompleteCallback_(shared_from_this());
  if (channel_.isWriting()) return;  // the callback sent more than the socket took: finish that
  if (peerClosed_) {
    if (!closeHeld_) handleClose();
  } else if (state_ == State::kDisconnecting) {
    socket_.shutdownWrite();
  }
}

// The connection is over. After closeCallback_ the server no longer owns this object; `guard`
// keeps it alive until this function returns, whoever called it (a handler, holdClose() from a
// user's functor), and whatever the callbacks let go of.
void TcpConnection::handleClose() {
  loop_->assertInLoopThread();
  if (state_ == State::kDisconnected) return;  // e.g. a hang-up and an end of stream in one round
  state_ = State::kDisconnected;
  channel_.disableAll();
  const TcpConnectionPtr guard(shared_from_this());
  if (connectionCallback_) connectionCallback_(guard);
  if (closeCallback_) closeCallback_(guard);
}

// epoll reported EPOLLERR: say what the socket's pending error was. Reading SO_ERROR clears it;
// the connection still ends, because a reset socket also reads as end of stream and refuses writes.
void TcpConnection::handleError() {
  loop_->assertInLoopThread();
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(socket_.fd(), SOL_SOCKET, SO_ERROR, &error, &length) < 0) error = errno;
  LOG_SYSWARN(error) << "error on " << name();
}
