#include <csignal>
#include <vector>

#include "Catch.h"
#include "EventLoop.h"
#include "SignalWatcher.h"

TEST_CASE("a blocked signal arrives as an event in the loop") {
  EventLoop loop;
  std::vector<int> caught;
  SignalWatcher watcher(&loop, {SIGUSR1}, [&](int signo) {
    caught.push_back(signo);
    loop.quit();
  });
  REQUIRE(std::raise(SIGUSR1) == 0);  // blocked: queued for the signalfd, the process lives on
  loop.loop();
  CHECK(caught == std::vector<int>{SIGUSR1});
}

TEST_CASE("each watched signal is reported") {
  EventLoop loop;
  std::vector<int> caught;
  SignalWatcher watcher(&loop, {SIGUSR1, SIGUSR2}, [&](int signo) {
    caught.push_back(signo);
    if (caught.size() == 2) loop.quit();
  });
  REQUIRE(std::raise(SIGUSR2) == 0);
  REQUIRE(std::raise(SIGUSR1) == 0);
  loop.loop();
  REQUIRE(caught.size() == 2);
  CHECK(((caught[0] == SIGUSR1 && caught[1] == SIGUSR2) ||
         (caught[0] == SIGUSR2 && caught[1] == SIGUSR1)));
}
