#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "Acceptor.h"
#include "Catch.h"
#include "EventLoop.h"

namespace {

int connectTo(const InetAddress& server) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  REQUIRE(::connect(fd, server.getSockAddr(), InetAddress::length()) == 0);
  return fd;
}

// The Acceptor keeps its socket to itself; find it among our fds by its address.
int fdBoundTo(const InetAddress& addr) {
  for (int fd = 0; fd < 1024; ++fd) {
    sockaddr_in local{};
    socklen_t length = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0 &&
        InetAddress(local).toIpPort() == addr.toIpPort()) {
      return fd;
    }
  }
  return -1;
}

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

// Lowers this process's fd limit so that the next fd it opens fails with EMFILE, and restores the
// limit when it goes out of scope (also when a REQUIRE fails).
class FdLimit {
 public:
  FdLimit() {
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0);
    const int lowestFree = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(lowestFree >= 0);
    ::close(lowestFree);
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(lowestFree);  // every fd below it is in use
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  }
  ~FdLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_{};
};

}  // namespace

TEST_CASE("each accepted connection goes to the callback with its peer's address") {
  EventLoop loop;
  Acceptor acceptor(&loop, InetAddress(0, "127.0.0.1"));
  std::vector<std::string> peers;
  acceptor.setNewConnectionCallback([&](Socket socket, const InetAddress& peer) {
    CHECK(socket.valid());
    peers.push_back(peer.toIpPort());
    if (peers.size() == 2) loop.quit();
  });
  acceptor.listen();
  const int a = connectTo(acceptor.listenAddress());
  const int b = connectTo(acceptor.listenAddress());
  loop.loop();
  REQUIRE(peers.size() == 2);
  ::close(a);
  ::close(b);
}

TEST_CASE("without a callback, an accepted connection is closed at once") {
  EventLoop loop;
  Acceptor acceptor(&loop, InetAddress(0, "127.0.0.1"));
  acceptor.listen();
  const int client = connectTo(acceptor.listenAddress());
  Channel watch(&loop, client);  // the client learns of the close: quit then
  watch.setReadCallback([&] { loop.quit(); });
  watch.enableReading();
  loop.loop();
  char byte;
  CHECK(::read(client, &byte, 1) == 0);
  watch.disableAll();
  ::close(client);
}

TEST_CASE("out of file descriptors: the connection is shed and the loop does not spin") {
  EventLoop loop;
  Acceptor acceptor(&loop, InetAddress(0, "127.0.0.1"));
  int accepted = 0;
  acceptor.setNewConnectionCallback([&](Socket, const InetAddress&) { ++accepted; });
  acceptor.listen();
  const int client = connectTo(acceptor.listenAddress());  // waits in the accept queue
  Channel watch(&loop, client);
  watch.setReadCallback([&] { loop.quit(); });
  watch.enableReading();
  {
    FdLimit noMoreFds;
    loop.loop();  // accept fails with EMFILE; the Acceptor sheds the connection; the client sees it
  }
  CHECK(accepted == 0);
  char byte;
  CHECK(::read(client, &byte, 1) <= 0);  // closed by the server: end of stream (or a reset)
  // The queue is empty again, so the level-triggered listening socket no longer wakes the loop.
  // Without the spare fd it would stay readable, and the loop would spin on it.
  const int listenFd = fdBoundTo(acceptor.listenAddress());
  REQUIRE(listenFd >= 0);
  CHECK_FALSE(readable(listenFd));
  watch.disableAll();
  ::close(client);

  // And the next connection, with fds to spare again, is accepted normally.
  acceptor.setNewConnectionCallback([&](Socket, const InetAddress&) {
    ++accepted;
    loop.quit();
  });
  const int next = connectTo(acceptor.listenAddress());
  loop.loop();
  CHECK(accepted == 1);
  ::close(next);
}
