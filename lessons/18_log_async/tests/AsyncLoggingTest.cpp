#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "AsyncLogging.h"
#include "Catch.h"
#include "LogFile.h"
#include "Logging.h"
#include "TempDir.h"

namespace {

using std::chrono::milliseconds;

// A line as a front end would hand it over: "<thread> <number> <padding>\n".
std::string numberedLine(int thread, int number) {
  return std::to_string(thread) + " " + std::to_string(number) + " " + std::string(60, 'x') + "\n";
}

void appendLine(AsyncLogging& log, const std::string& line) {
  log.append(line.data(), line.size());
}

// What is wrong with `text`, which should hold exactly `perThread` numbered lines of each of
// `threads` threads, each thread's in its own order, and nothing else ("" if nothing is). One
// assertion for the whole file: a million REQUIREs would take longer than the logging.
std::string checkAllLines(const std::string& text, int threads, int perThread) {
  std::vector<int> next(static_cast<size_t>(threads), 0);
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    if (end == std::string::npos) return "a line cut at byte " + std::to_string(start);
    const std::string line = text.substr(start, end + 1 - start);
    const int thread = std::atoi(line.c_str());
    if (thread < 0 || thread >= threads ||
        line != numberedLine(thread, next[static_cast<size_t>(thread)])) {
      return "unexpected line at byte " + std::to_string(start) + ": " + line;
    }
    ++next[static_cast<size_t>(thread)];
    start = end + 1;
  }
  for (int t = 0; t < threads; ++t) {
    if (next[static_cast<size_t>(t)] != perThread) {
      return "thread " + std::to_string(t) + ": " + std::to_string(next[static_cast<size_t>(t)]) +
             " lines, not " + std::to_string(perThread);
    }
  }
  return "";
}

// Polls, with a bound.
template <typename Condition>
bool eventually(Condition condition, milliseconds bound = milliseconds(10000)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

}  // namespace

TEST_CASE("LogFile appends to its file, and a run adds to what an earlier one wrote") {
  TempDir dir;
  const std::string path = dir.path() + "/a.log";
  {
    LogFile file(path);
    file.append("one\n", 4);
    CHECK(file.writtenBytes() == 4);
  }
  LogFile again(path);
  again.append("two\n", 4);
  CHECK(TempDir::read(path) == "one\ntwo\n");
  CHECK(again.lostBytes() == 0);
}

TEST_CASE("LogFile: a file that cannot be opened throws, naming it") {
  try {
    LogFile file("/nonexistent-directory/server.log");
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(e.code().value() == ENOENT);
    CHECK(std::string(e.what()).find("/nonexistent-directory/server.log") != std::string::npos);
  }
}

TEST_CASE("every line of two threads reaches the file, whole and in order, by stop()") {
  TempDir dir;
  const std::string path = dir.path() + "/server.log";
  constexpr int kThreads = 2;
  constexpr int kLines = 100000;  // 7 MB: the buffers fill and go round several times
  AsyncLogging log(path);
  log.start();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < kLines; ++i) appendLine(log, numberedLine(t, i));
    });
  }
  for (std::thread& thread : threads) thread.join();
  log.stop();
  CHECK(checkAllLines(TempDir::read(path), kThreads, kLines) == "");
}

TEST_CASE("flush() returns once every line appended before it is in the file") {
  TempDir dir;
  const std::string path = dir.path() + "/server.log";
  AsyncLogging log(path, milliseconds(3600 * 1000));  // the interval never comes
  log.start();
  for (int i = 0; i < 1000; ++i) appendLine(log, numberedLine(0, i));  // less than a buffer
  log.flush();
  CHECK(checkAllLines(TempDir::read(path), 1, 1000) == "");
  appendLine(log, numberedLine(0, 1000));
  log.flush();
  CHECK(checkAllLines(TempDir::read(path), 1, 1001) == "");
}

TEST_CASE("a line reaches the file within the flush interval, without a flush") {
  TempDir dir;
  const std::string path = dir.path() + "/server.log";
  AsyncLogging log(path, milliseconds(50));
  log.start();
  appendLine(log, numberedLine(0, 0));
  CHECK(eventually([&] { return TempDir::read(path) == numberedLine(0, 0); }));
}

TEST_CASE("lines appended before start(), and after stop(), are written too") {
  TempDir dir;
  const std::string path = dir.path() + "/server.log";
  {
    AsyncLogging neverStarted(path);
    appendLine(neverStarted, numberedLine(0, 0));
  }  // the destructor writes it
  CHECK(TempDir::read(path) == numberedLine(0, 0));
  AsyncLogging log(path);
  log.start();
  appendLine(log, numberedLine(0, 1));
  log.stop();
  appendLine(log, numberedLine(0, 2));  // written at once, by the caller
  CHECK(checkAllLines(TempDir::read(path), 1, 3) == "");
}

TEST_CASE("destroyed while it is the sink, it makes stderr the sink again") {
  TempDir dir;
  LogSink* gone;
  {
    AsyncLogging log(dir.path() + "/server.log");
    log.start();
    Logger::setSink(&log);
    gone = &log;
    LOG_INFO << "to the file";
  }
  CHECK(&Logger::sink() != gone);
  const std::string text = TempDir::read(dir.path() + "/server.log");
  CHECK(text.find(" INFO  to the file - AsyncLoggingTest.cpp:") != std::string::npos);
}

TEST_CASE("LOG_FATAL: the lines before it and its own are in the file when it aborts (a child)") {
  TempDir dir;
  const std::string path = dir.path() + "/server.log";
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGABRT, SIG_DFL);  // Catch2's handler would report a failure from the child
    AsyncLogging log(path, milliseconds(3600 * 1000));
    log.start();
    Logger::setSink(&log);
    for (int i = 0; i < 1000; ++i) LOG_INFO << "line " << i;
    LOG_FATAL << "cannot go on";
    ::_exit(0);  // reached only if it did not abort
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  const std::string text = TempDir::read(path);
  CHECK(text.find(" INFO  line 0 - ") != std::string::npos);
  CHECK(text.find(" INFO  line 999 - ") != std::string::npos);
  CHECK(text.find(" FATAL cannot go on - AsyncLoggingTest.cpp:") != std::string::npos);
}
