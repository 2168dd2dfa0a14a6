#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "Catch.h"
#include "Channel.h"
#include "EventLoop.h"
#include "SocketPair.h"

namespace {

void drain(int fd) {
  char buffer[64];
  while (::read(fd, buffer, sizeof buffer) > 0) {
  }
}

}  // namespace

TEST_CASE("loop() runs the handler of a ready channel, and quit() from a handler ends it") {
  EventLoop loop;
  SocketPair pair;
  Channel channel(&loop, pair.fds[0]);
  int calls = 0;
  channel.setReadCallback([&] {
    ++calls;
    drain(pair.fds[0]);
    loop.quit();
  });
  channel.enableReading();
  pair.sendByte();
  loop.loop();
  CHECK(calls == 1);
}

TEST_CASE("quit() lets the other handlers of the same round run") {
  EventLoop loop;
  SocketPair first, second;
  Channel a(&loop, first.fds[0]), b(&loop, second.fds[0]);
  std::string ran;
  a.setReadCallback([&] {
    ran += "a";
    drain(first.fds[0]);
    loop.quit();
  });
  b.setReadCallback([&] {
    ran += "b";
    drain(second.fds[0]);
    loop.quit();
  });
  a.enableReading();
  b.enableReading();
  first.sendByte();
  second.sendByte();
  loop.loop();
  CHECK(ran.size() == 2);  // both, in whichever order epoll reported them
}

TEST_CASE("level-triggered: a handler that leaves data unread is called again next round") {
  EventLoop loop;
  SocketPair pair;
  Channel channel(&loop, pair.fds[0]);
  int calls = 0;
  channel.setReadCallback([&] {
    if (++calls == 3) loop.quit();  // never reads: the fd stays readable
  });
  channel.enableReading();
  pair.sendByte();
  loop.loop();
  CHECK(calls == 3);
}

TEST_CASE("queueInLoop runs a functor after the handlers of the round") {
  EventLoop loop;
  SocketPair pair;
  Channel channel(&loop, pair.fds[0]);
  std::string order;
  channel.setReadCallback([&] {
    loop.queueInLoop([&] {
      order += "functor ";
      loop.quit();
    });
    order += "handler ";
    drain(pair.fds[0]);
  });
  channel.enableReading();
  pair.sendByte();
  loop.loop();
  CHECK(order == "handler functor ");
}

TEST_CASE("a functor queued by a functor runs in the next round") {
  EventLoop loop;
  SocketPair pair;
  Channel channel(&loop, pair.fds[0]);
  int round = 0;  // counts handler calls: the fd is never drained, so one per round
  int queuedIn = 0, ranIn = 0;
  channel.setReadCallback([&] {
    if (++round == 1) {
      loop.queueInLoop([&] {
        queuedIn = round;
        loop.queueInLoop([&] {
          ranIn = round;
          loop.quit();
        });
      });
    }
  });
  channel.enableReading();
  pair.sendByte();
  loop.loop();
  CHECK(queuedIn == 1);
  CHECK(ranIn == 2);
}

TEST_CASE("a functor queued by a functor runs even when no fd becomes ready") {
  EventLoop loop;
  SocketPair pair;
  Channel channel(&loop, pair.fds[0]);
  bool ran = false;
  channel.setReadCallback([&] {
    drain(pair.fds[0]);  // nothing ready after this: only the queued functors can end the loop
    loop.queueInLoop([&] {
      loop.queueInLoop([&] {
        ran = true;
        loop.quit();
      });
    });
  });
  channel.enableReading();
  pair.sendByte();
  loop.loop();  // would block in epoll_wait forever if the loop slept while a functor waits
  CHECK(ran);
}

TEST_CASE("a handler may hand its own destruction to queueInLoop") {
  EventLoop loop;
  SocketPair pair;
  auto owned = std::make_shared<Channel>(&loop, pair.fds[0]);
  std::weak_ptr<Channel> watch = owned;
  owned->setReadCallback([&] {
    owned->disableAll();
    std::shared_ptr<Channel> dying = std::move(owned);  // the last owner...
    loop.queueInLoop([dying] {});                       // ...now lives until the round ends
    CHECK_FALSE(watch.expired());                       // still alive while its handler runs
    loop.queueInLoop([&] { loop.quit(); });
  });
  owned->enableReading();
  pair.sendByte();
  loop.loop();
  CHECK(watch.expired());
}

TEST_CASE("many ready channels are all handled, whatever the size of epoll's event array") {
  EventLoop loop;
  std::vector<std::unique_ptr<SocketPair>> pairs;
  std::vector<std::unique_ptr<Channel>> channels;
  int handled = 0;
  const int kChannels = 100;
  for (int i = 0; i < kChannels; ++i) {
    pairs.push_back(std::make_unique<SocketPair>());
    const int fd = pairs.back()->fds[0];
    channels.push_back(std::make_unique<Channel>(&loop, fd));
    channels.back()->setReadCallback([&, fd] {
      drain(fd);
      if (++handled == kChannels) loop.quit();
    });
    channels.back()->enableReading();
    pairs.back()->sendByte();
  }
  loop.loop();
  CHECK(handled == kChannels);  // each once: drained fds are not reported again
}

TEST_CASE("a channel that wants nothing is not reported, even when its peer hangs up") {
  EventLoop loop;
  SocketPair quiet, trigger;
  Channel silent(&loop, quiet.fds[0]);
  bool called = false;
  silent.setReadCallback([&] { called = true; });
  silent.setCloseCallback([&] { called = true; });
  silent.setErrorCallback([&] { called = true; });
  silent.enableReading();
  silent.disableAll();
  ::close(quiet.fds[1]);  // epoll reports EPOLLHUP even for an fd registered with no events
  quiet.fds[1] = -1;
  Channel quitter(&loop, trigger.fds[0]);
  quitter.setReadCallback([&] { loop.quit(); });
  quitter.enableReading();
  trigger.sendByte();
  loop.loop();  // one round: the silent channel would have been reported in it
  CHECK_FALSE(called);
}

TEST_CASE("destroying a channel takes its fd out of the poller") {
  EventLoop loop;
  SocketPair pair;
  {
    Channel first(&loop, pair.fds[0]);
    first.enableReading();
  }
  Channel second(&loop, pair.fds[0]);
  // epoll_ctl(ADD) fails with EEXIST if the first registration, and its dangling Channel*,
  // remained.
  CHECK_NOTHROW(second.enableReading());
}

TEST_CASE("the loop can run again after quit") {
  EventLoop loop;
  SocketPair pair;
  Channel channel(&loop, pair.fds[0]);
  int calls = 0;
  channel.setReadCallback([&] {
    ++calls;
    drain(pair.fds[0]);
    loop.quit();
  });
  channel.enableReading();
  pair.sendByte();
  loop.loop();
  pair.sendByte();
  loop.loop();
  CHECK(calls == 2);
}

TEST_CASE("the kernel's refusals throw, naming the operation") {
  EventLoop loop;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  ::close(fds[0]);
  ::close(fds[1]);
  Channel closedFd(&loop, fds[0]);  // an fd that is no longer open
  try {
    closedFd.enableReading();
    FAIL("epoll_ctl(ADD) of a closed fd succeeded");
  } catch (const std::system_error& e) {
    CHECK(e.code().value() == EBADF);
    CHECK(std::string(e.what()).find("epoll_ctl(ADD)") != std::string::npos);
  }
  CHECK_FALSE(closedFd.inPoller());
}
