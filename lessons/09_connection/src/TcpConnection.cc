#include "TcpConnection.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdio>

#include "ErrnoText.h"

TcpConnection::TcpConnection(EventLoop* loop, uint64_t id, Socket socket,
                             const InetAddress& localAddr, const InetAddress& peerAddr)
    : loop_(loop),
      id_(id),
      socket_(std::move(socket)),
      channel_(loop, socket_.fd()),
      localAddr_(localAddr),
      peerAddr_(peerAddr) {
  channel_.setReadCallback([this] { handleRead(); });
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
  if (state_ != State::kConnected) return;  // handleClose has reported it already
  state_ = State::kDisconnected;
  channel_.disableAll();
  if (connectionCallback_) connectionCallback_(*this);
}

void TcpConnection::send(std::string_view data) {
  if (state_ != State::kConnected) return;  // closed: nobody to send to
  // MSG_NOSIGNAL: a write to a reset peer fails with EPIPE instead of raising SIGPIPE, whose
  // default action would end the whole program. A library cannot rely on its program ignoring it.
  const ssize_t written = ::send(socket_.fd(), data.data(), data.size(), MSG_NOSIGNAL);
  if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    // e.g. EPIPE: the peer is gone. The next read reports the end and closes the connection.
    std::fprintf(stderr, "write to %s: %s\n", name().c_str(), errnoText(errno).c_str());
    return;
  }
  const size_t sent = written < 0 ? 0 : static_cast<size_t>(written);
  if (sent < data.size()) {
    // The send buffer is full: the peer reads slower than we write. Waiting would stall every
    // other connection, and there is nowhere to keep the rest yet: it is lost (lesson 10 keeps it).
    std::fprintf(stderr, "dropped %zu bytes for %s: its send buffer is full\n", data.size() - sent,
                 name().c_str());
  }
}

void TcpConnection::send(Buffer* buffer) {
  send(std::string_view(buffer->peek(), buffer->readableBytes()));
  buffer->retrieveAll();
}

void TcpConnection::handleRead() {
  const ssize_t n = inputBuffer_.readFd(socket_.fd());
  if (n > 0) {
    // The callback consumes what it can use (whole messages) and leaves the rest for next time.
    // Without a callback nothing ever would: the bytes are discarded, not kept without bound.
    if (messageCallback_) {
      messageCallback_(*this, &inputBuffer_);
    } else {
      inputBuffer_.retrieveAll();
    }
    inputBuffer_.shrink();  // an idle connection keeps no buffer memory
  } else if (n == 0) {
    handleClose();  // the peer closed its side (FIN)
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    std::fprintf(stderr, "read from %s: %s\n", name().c_str(), errnoText(errno).c_str());
    handleClose();  // e.g. ECONNRESET
  }
}

// The connection is over. After closeCallback_ the server no longer owns this object: it lives on
// only until the end of the loop's round, so nothing may touch it after that call.
void TcpConnection::handleClose() {
  if (state_ == State::kDisconnected) return;  // closed already, by another path
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
  std::fprintf(stderr, "error on %s: %s\n", name().c_str(), errnoText(error).c_str());
}
