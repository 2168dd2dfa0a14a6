#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "Catch.h"
#include "Channel.h"
#include "EventLoop.h"
#include "InetAddress.h"
#include "Socket.h"

namespace {

// A Channel whose callbacks record what they were called for, in order.
struct Recorder {
  explicit Recorder(EventLoop* loop) : channel(loop, -1) {
    channel.setReadCallback([this] { calls += "read "; });
    channel.setWriteCallback([this] { calls += "write "; });
    channel.setCloseCallback([this] { calls += "close "; });
    channel.setErrorCallback([this] { calls += "error "; });
  }
  std::string dispatch(uint32_t revents) {
    calls.clear();
    channel.setRevents(revents);
    channel.handleEvent();
    return calls;
  }
  Channel channel;
  std::string calls;
};

}  // namespace

TEST_CASE("handleEvent calls the callbacks that match the reported events") {
  EventLoop loop;
  Recorder r(&loop);
  CHECK(r.dispatch(EPOLLIN) == "read ");
  CHECK(r.dispatch(EPOLLPRI) == "read ");
  CHECK(r.dispatch(EPOLLOUT) == "write ");
  CHECK(r.dispatch(EPOLLIN | EPOLLOUT) == "read write ");
  CHECK(r.dispatch(EPOLLERR) == "error ");
  CHECK(r.dispatch(0) == "");
}

TEST_CASE("a hang-up with EPOLLIN goes to the read callback; without it, to the close callback") {
  EventLoop loop;
  Recorder r(&loop);
  // Reading watched: the hang-up comes with EPOLLIN; the read finds the end of stream or the error.
  CHECK(r.dispatch(EPOLLHUP | EPOLLIN) == "read ");
  // Reading not watched: no read callback will run, so the close callback hears of it.
  CHECK(r.dispatch(EPOLLHUP) == "close ");
  CHECK(r.dispatch(EPOLLHUP | EPOLLERR | EPOLLOUT) == "close error write ");
  // Reported only to those who ask for it, which kReadEvent does not: not a read.
  CHECK(r.dispatch(EPOLLRDHUP) == "");
}

TEST_CASE(
    "a reset peer, reading not watched: EPOLLHUP and EPOLLERR, and its bytes still readable") {
  Socket listener = Socket::createNonBlocking();
  listener.bindAddress(InetAddress(0, "127.0.0.1"));
  listener.listen();
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(::connect(client, listener.localAddress().getSockAddr(), InetAddress::length()) == 0);
  InetAddress peer;
  const Socket accepted = listener.accept(&peer);
  REQUIRE(accepted.valid());
  REQUIRE(::write(client, "data", 4) == 4);
  const linger abort{1, 0};  // close() now sends RST instead of FIN
  REQUIRE(::setsockopt(client, SOL_SOCKET, SO_LINGER, &abort, sizeof abort) == 0);
  ::close(client);

  EventLoop loop;
  Channel channel(&loop, accepted.fd());
  std::string calls;
  channel.setWriteCallback([&] {
    calls += "write ";
    loop.quit();  // the write callback comes last in a round
  });
  channel.setCloseCallback([&] { calls += "close "; });
  channel.setErrorCallback([&] { calls += "error "; });
  channel.setReadCallback([&] { calls += "read "; });
  channel.enableWriting();  // EPOLLOUT only
  loop.loop();
  // Asked for EPOLLOUT only; the hang-up and the error are reported anyway.
  CHECK(calls == "close error write ");
  char buffer[16];
  CHECK(::recv(accepted.fd(), buffer, sizeof buffer, 0) == 4);  // what came before the reset
}

TEST_CASE("a missing callback is skipped") {
  EventLoop loop;
  Channel channel(&loop, -1);
  channel.setRevents(EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP);
  channel.handleEvent();  // must not call an empty std::function (that would throw)
  SUCCEED();
}

TEST_CASE("the event mask follows enable and disable") {
  EventLoop loop;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  {
    Channel channel(&loop, fds[0]);
    CHECK(channel.isNoneEvent());
    channel.enableReading();
    CHECK(channel.isReading());
    CHECK_FALSE(channel.isWriting());
    CHECK((channel.events() & EPOLLIN) != 0);
    channel.enableWriting();
    CHECK(channel.isWriting());
    CHECK((channel.events() & EPOLLOUT) != 0);
    channel.disableReading();
    CHECK_FALSE(channel.isReading());
    CHECK(channel.isWriting());
    channel.disableAll();
    CHECK(channel.isNoneEvent());
  }
  ::close(fds[0]);
  ::close(fds[1]);
}
