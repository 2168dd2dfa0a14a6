#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "AsyncLogging.h"
#include "Catch.h"
#include "CrashLog.h"
#include "Logging.h"
#include "Regex.h"
#include "TempDir.h"

namespace {

// Runs `crash` in a child that logs 1000 lines to an AsyncLogging in `dir` (whose back end would
// write them only at its hour-long flush interval) with a CrashLog; returns the child's status.
template <typename Crash>
int crashChild(const TempDir& dir, Crash crash) {
  const pid_t child = ::fork();
  if (child == 0) {
    AsyncLoggingOptions options;
    options.dir = dir.path();
    options.flushInterval = std::chrono::hours(1);
    AsyncLogging log(std::move(options));
    log.start();
    Logger::setSink(&log);
    CrashLog crashLog(&log);
    for (int i = 0; i < 1000; ++i) LOG_INFO << "line " << i;
    crash();
    ::_exit(0);  // reached only if the crash did not end it
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return status;
}

// Every one of the 1000 lines once, in order, then the handler's line for `signal`.
void checkCrashLog(const std::string& text, const std::string& signal, int signo) {
  std::vector<std::string> lines;
  for (size_t start = 0; start < text.size();) {
    const size_t end = text.find('\n', start);
    REQUIRE(end != std::string::npos);
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  REQUIRE(lines.size() >= 1001);
  int next = 0;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (lines[i].find(" FATAL ") != std::string::npos) continue;  // LOG_FATAL's own line
    REQUIRE(lines[i].find(" INFO  line " + std::to_string(next) + " - CrashLogTest.cpp:") !=
            std::string::npos);
    ++next;
  }
  CHECK(next == 1000);
  // The handler's line, in the log's format, dated today (UTC): its date is computed by hand.
  char today[16];
  const time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  std::strftime(today, sizeof today, "%Y-%m-%d", &tm);
  const std::regex crashLine(
      std::string(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \d+ FATAL caught )") + signal +
      R"( \(signal )" + std::to_string(signo) +
      R"(\): the lines before it were written out; the process ends - CrashLog\.cc:\d+)");
  INFO(lines.back());
  CHECK(std::regex_match(lines.back(), crashLine));
  CHECK(lines.back().substr(0, 10) == today);  // (a run at midnight UTC may see yesterday)
}

}  // namespace

TEST_CASE("a crash (SIGSEGV): the lines still in memory are written, then the signal's line") {
  TempDir dir;
  const int status = crashChild(dir, [] { ::raise(SIGSEGV); });
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGSEGV);  // and the process still dies of it
  checkCrashLog(dir.allText(), "SIGSEGV", SIGSEGV);
}

TEST_CASE("abort(): the lines still in memory are written, then the signal's line") {
  TempDir dir;
  const int status = crashChild(dir, [] { std::abort(); });
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  checkCrashLog(dir.allText(), "SIGABRT", SIGABRT);
}

TEST_CASE("LOG_FATAL with a CrashLog: its line, then the abort's, each once") {
  TempDir dir;
  const int status = crashChild(dir, [] { LOG_FATAL << "cannot go on"; });
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  const std::string text = dir.allText();
  checkCrashLog(text, "SIGABRT", SIGABRT);
  const size_t fatal = text.find(" FATAL cannot go on - CrashLogTest.cpp:");
  REQUIRE(fatal != std::string::npos);
  CHECK(text.find(" FATAL cannot go on", fatal + 1) == std::string::npos);
}

TEST_CASE("a CrashLog gone puts the signals' actions back") {
  TempDir dir;
  struct sigaction before {};
  ::sigaction(SIGSEGV, nullptr, &before);
  {
    AsyncLoggingOptions options;
    options.dir = dir.path();
    AsyncLogging log(std::move(options));
    CrashLog crashLog(&log);
    struct sigaction during {};
    ::sigaction(SIGSEGV, nullptr, &during);
    CHECK(during.sa_handler != before.sa_handler);
  }
  struct sigaction after {};
  ::sigaction(SIGSEGV, nullptr, &after);
  CHECK(after.sa_handler == before.sa_handler);
}
