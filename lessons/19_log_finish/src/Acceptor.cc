#include "Acceptor.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "Logging.h"

namespace {

Socket bound(const InetAddress& listenAddr) {
  Socket socket = Socket::createNonBlocking();
  socket.setReuseAddr(true);
  socket.bindAddress(listenAddr);
  return socket;
}

int openIdleFd() {
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open /dev/null");
  return fd;
}

}  // namespace

Acceptor::Acceptor(EventLoop* loop, const InetAddress& listenAddr)
    : socket_(bound(listenAddr)), channel_(loop, socket_.fd()), idleFd_(openIdleFd()) {
  channel_.setReadCallback([this] { handleRead(); });
}

void Acceptor::listen() {
  socket_.listen();
  channel_.enableReading();
}

// Takes every connection waiting in the accept queue.
void Acceptor::handleRead() {
  for (;;) {
    InetAddress peer;
    Socket socket = socket_.accept(&peer);
    if (socket.valid()) {
      if (newConnectionCallback_) newConnectionCallback_(std::move(socket), peer);
      continue;  // without a callback, ~Socket closes the connection
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // the queue is empty
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE) {
      if (shedOneConnection()) continue;
      return;  // nothing was waiting after all
    }
    // Anything else (ENOBUFS, ENOMEM, ...): report it and come back at the next wake-up.
    LOG_SYSERR(errno) << "accept";
    return;
  }
}

// Out of file descriptors: free the spare one, accept into it, close at once, take it back.
// Returns whether a connection was shed. Linux reserves the new fd before it looks at the queue, so
// EMFILE does not mean that a connection is waiting: the accept here may find the queue empty.
// Without a spare fd (it could not be reopened last time) nothing can be shed, and the loop keeps
// waking up until a connection of ours closes: the behaviour of the lessons before this one.
bool Acceptor::shedOneConnection() {
  const int savedErrno = errno;
  if (!idleFd_.valid()) return false;
  idleFd_.reset();
  const int connFd = ::accept4(socket_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
  if (connFd >= 0) ::close(connFd);
  idleFd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (connFd < 0) return false;
  LOG_SYSWARN(savedErrno) << "accept: shed a connection";
  return true;
}
