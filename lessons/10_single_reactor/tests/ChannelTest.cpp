#include <sys/epoll.h>
#include <unistd.h>

#include <string>

#include "Catch.h"
#include "Channel.h"
#include "EventLoop.h"

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

TEST_CASE("a hang-up with nothing to read closes; with data left, the read comes first") {
  EventLoop loop;
  Recorder r(&loop);
  CHECK(r.dispatch(EPOLLHUP) == "close ");
  // The peer sent data and then closed: read it (the read callback then sees the end of stream).
  CHECK(r.dispatch(EPOLLHUP | EPOLLIN) == "read ");
  // The peer shut down its writing side: a read of 0 bytes will tell the read callback.
  CHECK(r.dispatch(EPOLLRDHUP) == "read ");
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
