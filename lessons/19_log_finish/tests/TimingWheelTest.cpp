#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "Allocations.h"
#include "Catch.h"
#include "EventLoop.h"
#include "TcpConnection.h"
#include "Timestamp.h"
#include "TimingWheel.h"
#include "Watchdog.h"

namespace {

constexpr double kTick = 0.020;  // 20 ms ticks: the wheel's behaviour, in test time
constexpr int kTimeoutTicks = 5;

// A connection over one end of a socketpair, as a server would have made it; it records when it
// was reported closed.
struct Peer {
  Peer(EventLoop* loop, uint64_t id) {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    other = fds[1];
    conn = std::make_shared<TcpConnection>(loop, id, Socket(fds[0]), InetAddress(80, "10.0.0.1"),
                                           InetAddress(5555, "10.0.0.2"));
    conn->setConnectionCallback([this](const TcpConnectionPtr& c) {
      if (!c->connected()) closedAt = Timestamp::now();
    });
    conn->connectEstablished();
  }
  ~Peer() {
    conn.reset();
    ::close(other);
  }
  TcpConnectionPtr conn;
  int other = -1;
  Timestamp closedAt;
};

}  // namespace

TEST_CASE("a silent connection is closed after the timeout, within one more tick") {
  EventLoop loop;
  Watchdog watchdog(&loop, 10);
  TimingWheel wheel(&loop, kTimeoutTicks, kTick);
  Peer silent(&loop, 1);
  const Timestamp added = Timestamp::now();
  wheel.add(silent.conn);
  loop.runEvery(0.005, [&] {
    if (silent.closedAt.valid()) loop.quit();
  });
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  REQUIRE(silent.closedAt.valid());
  const double after = timeDifference(silent.closedAt, added);
  CHECK(after >= kTimeoutTicks * kTick);
  CHECK(after < (kTimeoutTicks + 1) * kTick + 0.5);  // + a loaded machine's lateness
  CHECK(wheel.closedCount() == 1);
  CHECK(wheel.size() == 0);
}

TEST_CASE("a connection that keeps talking is never closed; once silent, it is") {
  EventLoop loop;
  Watchdog watchdog(&loop, 10);
  TimingWheel wheel(&loop, kTimeoutTicks, kTick);
  Peer talker(&loop, 1);
  wheel.add(talker.conn);
  // A message every half tick for 4 timeouts, then silence.
  const Timestamp stopTalking = addTime(Timestamp::now(), 4 * kTimeoutTicks * kTick);
  Timestamp lastTouch;
  loop.runEvery(kTick / 2, [&] {
    if (Timestamp::now() < stopTalking) {
      wheel.touch(talker.conn);
      lastTouch = Timestamp::now();
    }
    if (talker.closedAt.valid()) loop.quit();
  });
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  REQUIRE(talker.closedAt.valid());
  CHECK(talker.closedAt >= stopTalking);  // not while it talked
  CHECK(timeDifference(talker.closedAt, lastTouch) >= kTimeoutTicks * kTick);
}

TEST_CASE("a removed connection is forgotten, not closed") {
  EventLoop loop;
  Watchdog watchdog(&loop, 10);
  TimingWheel wheel(&loop, kTimeoutTicks, kTick);
  Peer gone(&loop, 1);
  Peer silent(&loop, 2);
  wheel.add(gone.conn);
  wheel.add(silent.conn);
  wheel.remove(gone.conn);
  CHECK(wheel.size() == 1);
  loop.runEvery(0.005, [&] {
    if (silent.closedAt.valid()) loop.runAfter(2 * kTick, [&] { loop.quit(); });
  });
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  CHECK(silent.closedAt.valid());
  CHECK_FALSE(gone.closedAt.valid());
  CHECK(wheel.closedCount() == 1);
}

TEST_CASE("touch() allocates nothing, and neither do the ticks once the buckets have grown") {
  // The wheel is turned by hand here (no timer), on a clock of the test's own, so that which
  // bucket holds what is exact.
  EventLoop loop;
  TimingWheel wheel(&loop, kTimeoutTicks, kTick, TimingWheel::Turn::kByHand);
  const Timestamp start = Timestamp::now();
  auto at = [&](int tick) { return addTime(start, kTick * tick); };
  std::vector<std::unique_ptr<Peer>> peers;
  for (uint64_t id = 1; id <= 100; ++id) {
    peers.push_back(std::make_unique<Peer>(&loop, id));
    wheel.add(peers.back()->conn, at(0));
  }
  // Every connection talks every tick, so each is moved on whenever the wheel comes to it.
  int tick = 0;
  auto turn = [&](int ticks) {
    long touchAllocations = 0;
    for (int i = 0; i < ticks; ++i) {
      ++tick;
      const long before = allocationCount();
      for (const auto& peer : peers) wheel.touch(peer->conn, at(tick));
      touchAllocations += allocationCount() - before;
      wheel.tick(addTime(at(tick), kTick / 2));
    }
    return touchAllocations;
  };
  const int kBuckets = kTimeoutTicks + 1;
  turn(kBuckets * kBuckets);
  const long before = allocationCount();
  const long touchAllocations = turn(2 * kBuckets);
  CHECK(touchAllocations == 0);
  CHECK(allocationCount() - before == 0);  // touches and ticks: nothing allocated
  CHECK(wheel.closedCount() == 0);
  CHECK(wheel.size() == 100);
}

TEST_CASE("turned by hand, the wheel closes a connection silent for the timeout, not before") {
  EventLoop loop;
  TimingWheel wheel(&loop, kTimeoutTicks, kTick, TimingWheel::Turn::kByHand);
  const Timestamp start = Timestamp::now();
  auto at = [&](int tick) { return addTime(start, kTick * tick); };
  Peer silent(&loop, 1);
  Peer talker(&loop, 2);
  wheel.add(silent.conn, at(0));
  wheel.add(talker.conn, at(0));
  for (int tick = 1; tick <= kTimeoutTicks; ++tick) {
    wheel.touch(talker.conn, at(tick));
    wheel.tick(at(tick));
  }
  CHECK(wheel.closedCount() == 0);  // silent for the timeout only at the last tick, and not
                                    // looked at before the wheel comes round to it
  wheel.touch(talker.conn, at(kTimeoutTicks + 1));
  wheel.tick(at(kTimeoutTicks + 1));
  CHECK(wheel.closedCount() == 1);  // closed (forceClose runs in the loop's next round)
  CHECK(wheel.size() == 1);
  loop.queueInLoop([&] { loop.quit(); });
  loop.loop();
  CHECK(silent.closedAt.valid());
  CHECK_FALSE(talker.closedAt.valid());
}

TEST_CASE("a message read while a late tick is due still gets the whole timeout") {
  // The loop is held past the 3rd tick's time; then a message arrives (touch), before that tick
  // has run. A wheel that counted silence in ticks would stamp it with tick 2, and its ticks, kept
  // to their schedule after the late one, would close it timeout ticks after the 3rd tick's *due*
  // time: before the timeout has passed. The clock cannot be fooled so.
  EventLoop loop;
  Watchdog watchdog(&loop, 10);
  const Timestamp start = Timestamp::now();
  TimingWheel wheel(&loop, kTimeoutTicks, kTick);
  Peer peer(&loop, 1);
  wheel.add(peer.conn);
  Timestamp touched;
  loop.runAt(addTime(start, 3 * kTick - 0.005), [&] {
    while (Timestamp::now() < addTime(start, 3 * kTick + 0.010)) {
    }
    wheel.touch(peer.conn);  // as a message read in this round would be
    touched = Timestamp::now();
  });
  loop.runEvery(0.002, [&] {
    if (peer.closedAt.valid()) loop.quit();
  });
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  REQUIRE(touched.valid());
  REQUIRE(peer.closedAt.valid());
  CHECK(timeDifference(peer.closedAt, touched) >= kTimeoutTicks * kTick);
}

TEST_CASE("a connection whose output is being read is not idle, though it receives nothing") {
  // A slow reader of a large reply: the peer reads 16 KiB every 5 ms for 0.3 s (3 timeouts),
  // then stops. The connection is closed only once its output stopped moving.
  EventLoop loop;
  Watchdog watchdog(&loop, 10);
  TimingWheel wheel(&loop, kTimeoutTicks, kTick);
  Peer peer(&loop, 1);
  wheel.add(peer.conn);
  peer.conn->send(std::string(16 * 1024 * 1024, 'x'));
  const Timestamp stopReading = addTime(Timestamp::now(), 0.3);
  size_t read = 0;
  loop.runEvery(0.005, [&] {
    if (Timestamp::now() < stopReading) {
      char buffer[16 * 1024];
      const ssize_t n = ::read(peer.other, buffer, sizeof buffer);
      if (n > 0) read += static_cast<size_t>(n);
    }
    if (peer.closedAt.valid()) loop.quit();
  });
  loop.loop();
  CHECK_FALSE(watchdog.fired());
  REQUIRE(peer.closedAt.valid());
  CHECK(peer.closedAt >= stopReading);
  CHECK(read > 512 * 1024);  // it did move, for all that time
}

TEST_CASE("a connection the server holds open (holdClose) is not idle; once let go, it is") {
  EventLoop loop;
  TimingWheel wheel(&loop, kTimeoutTicks, kTick, TimingWheel::Turn::kByHand);
  const Timestamp start = Timestamp::now();
  auto at = [&](int tick) { return addTime(start, kTick * tick); };
  Peer peer(&loop, 1);
  wheel.add(peer.conn, at(0));
  peer.conn->holdClose(true);  // work in progress for it, say
  int tick = 0;
  while (tick < 3 * (kTimeoutTicks + 1)) wheel.tick(at(++tick));
  CHECK(wheel.closedCount() == 0);
  peer.conn->holdClose(false);
  const int letGo = tick;
  while (wheel.closedCount() == 0 && tick < letGo + 3 * (kTimeoutTicks + 1)) wheel.tick(at(++tick));
  CHECK(wheel.closedCount() == 1);
  // A whole timeout after the wheel last saw the hold, which it looks at only when it comes round
  // to the connection: within a lap of the let-go.
  CHECK(tick - letGo <= kTimeoutTicks + 1);
}
