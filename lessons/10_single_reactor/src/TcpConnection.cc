#include "TcpConnection.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

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
  channel_.enableReading();
  state_ = State::kConnected;
  if (connectionCallback_) connectionCallback_(*this);
}

void TcpConnection::connectDestroyed() {
  if (state_ == State::kDisconnected) return;  // handleClose has reported it already
  state_ = State::kDisconnected;
  channel_.disableAll();
  if (connectionCallback_) connectionCallback_(*this);
}

void TcpConnection::send(std::string_view data) {
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
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      // e.g. EPIPE: the peer is gone. Its end of stream or reset closes the connection.
      std::fprintf(stderr, "write to %s: %s\n", name().c_str(), std::strerror(errno));
      return;
    }
  }
  const size_t remaining = data.size() - written;
  if (remaining == 0) return;
  const size_t before = outputBuffer_.readableBytes();
  outputBuffer_.append(data.data() + written, remaining);
  if (!channel_.isWriting()) channel_.enableWriting();
  // After appending, so that a callback that sends again does not cross the mark a second time.
  const size_t pending = before + remaining;
  if (highWaterMarkCallback_ && before < highWaterMark_ && pending >= highWaterMark_) {
    highWaterMarkCallback_(*this, pending);
  }
}

void TcpConnection::send(Buffer* buffer) {
  send(std::string_view(buffer->peek(), buffer->readableBytes()));
  buffer->retrieveAll();
}

void TcpConnection::shutdown() {
  if (state_ != State::kConnected) return;
  state_ = State::kDisconnecting;
  if (!channel_.isWriting()) socket_.shutdownWrite();  // else handleWrite does it once drained
}

void TcpConnection::stopRead() { channel_.disableReading(); }

void TcpConnection::startRead() {
  // Not after the peer's end of stream: it would be reported again and again (level-triggered).
  if (!peerClosed_ && state_ != State::kDisconnected) channel_.enableReading();
}

void TcpConnection::handleRead() {
  const ssize_t n = inputBuffer_.readFd(socket_.fd());
  if (n > 0) {
    if (messageCallback_) messageCallback_(*this, &inputBuffer_);
    inputBuffer_.releaseIfEmpty();  // an idle connection keeps no buffer memory
  } else if (n == 0) {
    // The peer sent FIN: it will send no more, but may still read. Close once our output is out.
    peerClosed_ = true;
    if (outputBuffer_.readableBytes() == 0) {
      handleClose();
    } else {
      channel_.disableReading();  // end of stream stays readable: stop hearing about it
    }
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    std::fprintf(stderr, "read from %s: %s\n", name().c_str(), std::strerror(errno));
    handleClose();  // e.g. ECONNRESET
  }
}

void TcpConnection::handleWrite() {
  if (!channel_.isWriting()) return;  // closed in this round, or nothing was waiting
  const ssize_t n =
      ::send(socket_.fd(), outputBuffer_.peek(), outputBuffer_.readableBytes(), MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    std::fprintf(stderr, "write to %s: %s\n", name().c_str(), std::strerror(errno));
    handleClose();  // e.g. EPIPE or ECONNRESET: the peer is gone, and so is what it did not read
    return;
  }
  outputBuffer_.retrieve(static_cast<size_t>(n));
  if (outputBuffer_.readableBytes() > 0) return;  // the socket is full again; wait for EPOLLOUT
  // Drained: stop watching EPOLLOUT, which an empty send buffer would report on every round.
  channel_.disableWriting();
  outputBuffer_.releaseIfEmpty();
  if (writeCompleteCallback_) writeCompleteCallback_(*this);
  if (channel_.isWriting()) return;  // the callback sent more than the socket took: finish that
  if (peerClosed_) {
    handleClose();
  } else if (state_ == State::kDisconnecting) {
    socket_.shutdownWrite();
  }
}

// The connection is over. After closeCallback_ the server no longer owns this object: it lives on
// only until the end of the loop's round, so nothing may touch it after that call.
void TcpConnection::handleClose() {
  if (state_ == State::kDisconnected) return;  // e.g. a hang-up and an end of stream in one round
  state_ = State::kDisconnected;
  channel_.disableAll();
  if (connectionCallback_) connectionCallback_(*this);
  if (closeCallback_) closeCallback_(*this);
}

// epoll reported EPOLLERR: say what the socket's pending error was. Reading SO_ERROR clears it;
// the connection still ends, because a reset socket also reads as end of stream and refuses writes.
void TcpConnection::handleError() {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(socket_.fd(), SOL_SOCKET, SO_ERROR, &error, &length) < 0) error = errno;
  std::fprintf(stderr, "error on %s: %s\n", name().c_str(), std::strerror(error));
}
