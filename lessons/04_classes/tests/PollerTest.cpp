#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <vector>

#include "Catch.h"
#include "Poller.h"

namespace {

// Two connected sockets; closes both when done.
struct SocketPair : noncopyable {
  int fds[2] = {-1, -1};
  SocketPair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0); }
  ~SocketPair() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
};

std::vector<epoll_event> pollNow(Poller* poller) {
  std::vector<epoll_event> active;
  poller->poll(0, &active);
  return active;
}

}  // namespace

TEST_CASE("nothing ready: poll with a zero timeout returns no events") {
  Poller poller;
  SocketPair pair;
  poller.add(pair.fds[0], EPOLLIN);
  CHECK(pollNow(&poller).empty());
}

TEST_CASE("a readable descriptor is reported with its fd and EPOLLIN") {
  Poller poller;
  SocketPair pair;
  poller.add(pair.fds[0], EPOLLIN);
  REQUIRE(::write(pair.fds[1], "x", 1) == 1);
  const auto active = pollNow(&poller);
  REQUIRE(active.size() == 1);
  CHECK(active[0].data.fd == pair.fds[0]);
  CHECK((active[0].events & EPOLLIN) != 0);
}

TEST_CASE("level-triggered: unread data is reported again") {
  Poller poller;
  SocketPair pair;
  poller.add(pair.fds[0], EPOLLIN);
  REQUIRE(::write(pair.fds[1], "x", 1) == 1);
  CHECK(pollNow(&poller).size() == 1);
  CHECK(pollNow(&poller).size() == 1);  // still unread: still ready
  char byte;
  REQUIRE(::read(pair.fds[0], &byte, 1) == 1);
  CHECK(pollNow(&poller).empty());
}

TEST_CASE("modify changes the events watched") {
  Poller poller;
  SocketPair pair;
  poller.add(pair.fds[0], EPOLLIN);
  CHECK(pollNow(&poller).empty());  // nothing to read
  poller.modify(pair.fds[0], EPOLLOUT);
  const auto active = pollNow(&poller);  // an empty send buffer is writable
  REQUIRE(active.size() == 1);
  CHECK((active[0].events & EPOLLOUT) != 0);
}

TEST_CASE("a removed descriptor is no longer reported") {
  Poller poller;
  SocketPair pair;
  poller.add(pair.fds[0], EPOLLIN);
  REQUIRE(::write(pair.fds[1], "x", 1) == 1);
  poller.remove(pair.fds[0]);
  CHECK(pollNow(&poller).empty());
}

TEST_CASE("a hung-up peer is reported, so the reader finds out") {
  Poller poller;
  SocketPair pair;
  poller.add(pair.fds[0], EPOLLIN);
  ::close(pair.fds[1]);
  pair.fds[1] = -1;
  const auto active = pollNow(&poller);
  REQUIRE(active.size() == 1);
  CHECK((active[0].events & (EPOLLIN | EPOLLHUP)) != 0);
}

TEST_CASE("more ready descriptors than the event array holds are all reported over two polls") {
  Poller poller;
  std::vector<SocketPair> pairs(40);  // more than the 16 events of the first array
  for (auto& pair : pairs) {
    poller.add(pair.fds[0], EPOLLIN);
    REQUIRE(::write(pair.fds[1], "x", 1) == 1);
  }
  // Level-triggered, so every poll sees all 40; the array doubles each time it is filled: 16,
  // 32, 64.
  CHECK(pollNow(&poller).size() == 16);
  CHECK(pollNow(&poller).size() == 32);
  CHECK(pollNow(&poller).size() == pairs.size());
}

TEST_CASE("the kernel's refusals throw, naming the operation") {
  Poller poller;
  SocketPair pair;
  poller.add(pair.fds[0], EPOLLIN);
  CHECK_THROWS_AS(poller.add(pair.fds[0], EPOLLIN), std::system_error);     // EEXIST
  CHECK_THROWS_AS(poller.modify(pair.fds[1], EPOLLIN), std::system_error);  // ENOENT
  try {
    poller.remove(pair.fds[1]);
    FAIL("removing an unwatched fd succeeded");
  } catch (const std::system_error& e) {
    CHECK(e.code().value() == ENOENT);
    CHECK(std::string(e.what()).find("epoll_ctl(DEL)") != std::string::npos);
  }
}
