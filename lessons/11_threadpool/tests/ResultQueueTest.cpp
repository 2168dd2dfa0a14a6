#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "Catch.h"
#include "EventLoop.h"
#include "ResultQueue.h"
#include "Watchdog.h"

TEST_CASE(
    "values pushed from other threads are delivered in the loop thread, "
    "each thread's in order") {
  constexpr int kThreads = 4;
  constexpr int kValues = 2000;
  EventLoop loop;
  Watchdog watchdog(&loop, 20);
  const std::thread::id loopThread = std::this_thread::get_id();
  std::vector<std::vector<int>> received(kThreads);  // touched by the loop thread only
  int delivered = 0;
  bool allInLoopThread = true;
  ResultQueue<std::pair<int, int>> queue(&loop, [&](std::pair<int, int>&& value) {
    allInLoopThread &= std::this_thread::get_id() == loopThread;
    received[static_cast<size_t>(value.first)].push_back(value.second);
    if (++delivered == kThreads * kValues) loop.quit();
  });
  std::vector<std::thread> pushers;
  for (int t = 0; t < kThreads; ++t) {
    pushers.emplace_back([&queue, t] {
      for (int i = 0; i < kValues; ++i) queue.push({t, i});
    });
  }
  loop.loop();
  for (std::thread& pusher : pushers) pusher.join();
  CHECK_FALSE(watchdog.fired());
  CHECK(allInLoopThread);
  for (int t = 0; t < kThreads; ++t) {
    std::vector<int> expected(kValues);
    for (int i = 0; i < kValues; ++i) expected[static_cast<size_t>(i)] = i;
    CHECK(received[static_cast<size_t>(t)] == expected);
  }
}

TEST_CASE("a value pushed before the loop runs is delivered in its first round") {
  EventLoop loop;
  std::vector<std::string> received;
  ResultQueue<std::string> queue(&loop, [&](std::string&& value) {
    received.push_back(std::move(value));
    loop.quit();
  });
  queue.push("early");
  loop.loop();
  CHECK(received == std::vector<std::string>{"early"});
}
