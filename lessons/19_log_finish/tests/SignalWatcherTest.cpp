#include <csignal>
#include <system_error>
#include <vector>

#include "Catch.h"
#include "EpollSabotage.h"
#include "EventLoop.h"
#include "OpenFds.h"
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

TEST_CASE("signal names are strsignal's, without its shared buffer") {
  CHECK(SignalWatcher::describe(SIGTERM) == "Terminated");
  CHECK(SignalWatcher::describe(SIGINT) == "Interrupt");
  CHECK(SignalWatcher::describe(SIGHUP) == "Hangup");
  CHECK(SignalWatcher::describe(64) == "Signal 64");
}

TEST_CASE("a SignalWatcher the poller refuses throws, and leaks no descriptor") {
  EventLoop loop;
  const int before = openFdCount();
  {
    EpollSabotage refuse;  // the signalfd is made, then watching it fails
    CHECK_THROWS_AS(SignalWatcher(&loop, {SIGUSR1}, [](int) {}), std::system_error);
  }
  CHECK(openFdCount() == before);  // the signalfd was closed on the way out
}
