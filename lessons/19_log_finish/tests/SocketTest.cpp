#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include "Catch.h"
#include "Socket.h"

namespace {

bool isOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

int getOption(int fd, int level, int option) {
  int value = -1;
  socklen_t length = sizeof value;
  REQUIRE(::getsockopt(fd, level, option, &value, &length) == 0);
  return value;
}

// A listening socket on a kernel-chosen loopback port.
Socket listening() {
  Socket socket = Socket::createNonBlocking();
  socket.setReuseAddr(true);
  socket.bindAddress(InetAddress(0, "127.0.0.1"));
  socket.listen();
  return socket;
}

}  // namespace

TEST_CASE("a created socket is non-blocking and close-on-exec") {
  const Socket socket = Socket::createNonBlocking();
  REQUIRE(socket.valid());
  CHECK((::fcntl(socket.fd(), F_GETFL) & O_NONBLOCK) != 0);
  CHECK((::fcntl(socket.fd(), F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("the destructor closes the descriptor, exactly once") {
  int fd = -1;
  {
    const Socket socket = Socket::createNonBlocking();
    fd = socket.fd();
    CHECK(isOpen(fd));
  }
  CHECK_FALSE(isOpen(fd));
}

TEST_CASE("moving hands the descriptor over") {
  Socket first = Socket::createNonBlocking();
  const int fd = first.fd();
  Socket second = std::move(first);
  CHECK_FALSE(first.valid());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  CHECK(second.fd() == fd);

  Socket third = Socket::createNonBlocking();
  const int replaced = third.fd();
  third = std::move(second);
  CHECK(third.fd() == fd);
  CHECK_FALSE(isOpen(replaced));  // move-assignment closed what `third` held before
  CHECK(isOpen(fd));
}

TEST_CASE("socket options are set and cleared") {
  Socket socket = Socket::createNonBlocking();
  socket.setReuseAddr(true);
  CHECK(getOption(socket.fd(), SOL_SOCKET, SO_REUSEADDR) != 0);
  socket.setReuseAddr(false);
  CHECK(getOption(socket.fd(), SOL_SOCKET, SO_REUSEADDR) == 0);
  socket.setTcpNoDelay(true);
  CHECK(getOption(socket.fd(), IPPROTO_TCP, TCP_NODELAY) != 0);
}

TEST_CASE("binding port 0 gets a real port, which localAddress reports") {
  const Socket socket = listening();
  const InetAddress local = socket.localAddress();
  CHECK(local.toIp() == "127.0.0.1");
  CHECK(local.port() != 0);
}

TEST_CASE("binding a port in use throws, naming the call and the address") {
  const Socket first = listening();
  const InetAddress taken = first.localAddress();
  Socket second = Socket::createNonBlocking();
  second.setReuseAddr(true);  // SO_REUSEADDR does not allow two listeners on one port
  try {
    second.bindAddress(taken);
    FAIL("bind succeeded on a port in use");
  } catch (const std::system_error& e) {
    CHECK(e.code().value() == EADDRINUSE);
    CHECK(std::string(e.what()).find("bind " + taken.toIpPort()) != std::string::npos);
  }
}

TEST_CASE("accept returns an invalid socket with EAGAIN when nobody is waiting") {
  Socket listener = listening();
  InetAddress peer;
  errno = 0;
  const Socket none = listener.accept(&peer);
  CHECK_FALSE(none.valid());
  CHECK((errno == EAGAIN || errno == EWOULDBLOCK));
}

TEST_CASE("accept returns a non-blocking connection and the peer's address") {
  Socket listener = listening();
  Socket client = Socket::createNonBlocking();
  // A non-blocking connect on loopback may finish at once or report EINPROGRESS; either is fine,
  // the connection then waits in the listener's queue.
  const int rc =
      ::connect(client.fd(), listener.localAddress().getSockAddr(), InetAddress::length());
  REQUIRE((rc == 0 || errno == EINPROGRESS));

  InetAddress peer;
  Socket accepted(-1);
  for (int attempt = 0; attempt < 1000 && !accepted.valid(); ++attempt) {
    accepted = listener.accept(&peer);
    if (!accepted.valid()) ::usleep(1000);  // the handshake completes in the kernel meanwhile
  }
  REQUIRE(accepted.valid());
  CHECK((::fcntl(accepted.fd(), F_GETFL) & O_NONBLOCK) != 0);
  CHECK(peer.toIpPort() == client.localAddress().toIpPort());
}
