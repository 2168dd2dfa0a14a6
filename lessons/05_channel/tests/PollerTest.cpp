#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <system_error>
#include <vector>

#include "Catch.h"
#include "Channel.h"
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

Poller::ChannelList pollNow(Poller* poller) {
  Poller::ChannelList active;
  poller->poll(0, &active);
  return active;
}

}  // namespace

TEST_CASE("nothing ready: poll with a zero timeout returns no channels") {
  Poller poller;
  SocketPair pair;
  Channel channel(&poller, pair.fds[0]);
  channel.enableReading();
  CHECK(pollNow(&poller).empty());
}

TEST_CASE("a readable fd is reported as its Channel, with EPOLLIN in revents") {
  Poller poller;
  SocketPair pair;
  Channel channel(&poller, pair.fds[0]);
  bool read = false;
  channel.setReadCallback([&] { read = true; });
  channel.enableReading();
  REQUIRE(::write(pair.fds[1], "x", 1) == 1);
  const auto active = pollNow(&poller);
  REQUIRE(active.size() == 1);
  CHECK(active[0] == &channel);
  active[0]->handleEvent();  // the revents the poller stored lead to the read callback
  CHECK(read);
}

TEST_CASE("level-triggered: unread data is reported again") {
  Poller poller;
  SocketPair pair;
  Channel channel(&poller, pair.fds[0]);
  channel.enableReading();
  REQUIRE(::write(pair.fds[1], "x", 1) == 1);
  CHECK(pollNow(&poller).size() == 1);
  CHECK(pollNow(&poller).size() == 1);  // still unread: still ready
  char byte;
  REQUIRE(::read(pair.fds[0], &byte, 1) == 1);
  CHECK(pollNow(&poller).empty());
}

TEST_CASE("enabling and disabling events updates the epoll set") {
  Poller poller;
  SocketPair pair;
  Channel channel(&poller, pair.fds[0]);
  CHECK_FALSE(channel.inPoller());
  channel.enableReading();
  CHECK(channel.inPoller());
  CHECK(pollNow(&poller).empty());  // nothing to read
  channel.enableWriting();          // an empty send buffer is writable
  CHECK(pollNow(&poller).size() == 1);
  channel.disableWriting();
  CHECK(pollNow(&poller).empty());
  channel.disableAll();  // wanting nothing takes the fd out of the set
  CHECK_FALSE(channel.inPoller());
  channel.enableReading();  // and it can come back
  CHECK(channel.inPoller());
}

TEST_CASE("a channel that wants nothing is not reported, even when its peer hangs up") {
  Poller poller;
  SocketPair pair;
  Channel channel(&poller, pair.fds[0]);
  channel.enableReading();
  channel.disableAll();
  ::close(pair.fds[1]);  // epoll reports EPOLLHUP even for an fd registered with no events
  pair.fds[1] = -1;
  CHECK(pollNow(&poller).empty());
}

TEST_CASE("destroying a channel takes it out of the poller") {
  Poller poller;
  SocketPair pair;
  REQUIRE(::write(pair.fds[1], "x", 1) == 1);
  {
    Channel shortLived(&poller, pair.fds[0]);
    shortLived.enableReading();
    CHECK(pollNow(&poller).size() == 1);
  }
  CHECK(pollNow(&poller).empty());  // ~Channel left the set: no dangling Channel* can come back
}

TEST_CASE("more ready channels than the event array holds are all reported over a few polls") {
  Poller poller;
  std::vector<std::unique_ptr<SocketPair>> pairs;
  std::vector<std::unique_ptr<Channel>> channels;
  for (int i = 0; i < 40; ++i) {  // more than the 16 events of the first array
    pairs.push_back(std::make_unique<SocketPair>());
    channels.push_back(std::make_unique<Channel>(&poller, pairs.back()->fds[0]));
    channels.back()->enableReading();
    REQUIRE(::write(pairs.back()->fds[1], "x", 1) == 1);
  }
  // Level-triggered, so every poll sees all 40; the array doubles each time it is filled: 16,
  // 32, 64.
  CHECK(pollNow(&poller).size() == 16);
  CHECK(pollNow(&poller).size() == 32);
  CHECK(pollNow(&poller).size() == 40);
}

TEST_CASE("the kernel's refusals throw, naming the operation") {
  Poller poller;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  ::close(fds[0]);
  ::close(fds[1]);
  Channel closedFd(&poller, fds[0]);  // an fd that is no longer open
  try {
    closedFd.enableReading();
    FAIL("epoll_ctl(ADD) of a closed fd succeeded");
  } catch (const std::system_error& e) {
    CHECK(e.code().value() == EBADF);
    CHECK(std::string(e.what()).find("epoll_ctl(ADD)") != std::string::npos);
  }
  CHECK_FALSE(closedFd.inPoller());
}
