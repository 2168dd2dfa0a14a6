#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "AsyncLogging.h"
#include "Catch.h"
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

AsyncLoggingOptions optionsFor(const TempDir& dir,
                               milliseconds flushInterval = milliseconds(3000)) {
  AsyncLoggingOptions options;
  options.dir = dir.path();
  options.flushInterval = flushInterval;
  return options;
}

// A disk that has stopped: AsyncLoggingOptions::beforeWrite waits in it until open() (or 30 s).
class StuckDisk {
 public:
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    waiting_ = true;
    opened_.wait_for(lock, std::chrono::seconds(30), [this] { return open_; });
  }
  bool waiting() {  // the back end is stuck in it
    std::lock_guard<std::mutex> lock(mutex_);
    return waiting_;
  }
  void open() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      open_ = true;
    }
    opened_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool waiting_ = false;
  bool open_ = false;
};

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

TEST_CASE("every line of two threads reaches the file, whole and in order, by stop()") {
  TempDir dir;
  constexpr int kThreads = 2;
  constexpr int kLines = 100000;  // 7 MB: the buffers fill and go round several times
  AsyncLogging log(optionsFor(dir));
  log.start();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < kLines; ++i) appendLine(log, numberedLine(t, i));
    });
  }
  for (std::thread& thread : threads) thread.join();
  log.stop();
  CHECK(checkAllLines(dir.allText(), kThreads, kLines) == "");
}

TEST_CASE("flush() returns once every line appended before it is in the file") {
  TempDir dir;
  AsyncLogging log(optionsFor(dir, milliseconds(3600 * 1000)));  // the interval never comes
  log.start();
  for (int i = 0; i < 1000; ++i) appendLine(log, numberedLine(0, i));  // less than a buffer
  log.flush();
  CHECK(checkAllLines(dir.allText(), 1, 1000) == "");
  appendLine(log, numberedLine(0, 1000));
  log.flush();
  CHECK(checkAllLines(dir.allText(), 1, 1001) == "");
}

TEST_CASE("a line reaches the file within the flush interval, without a flush") {
  TempDir dir;
  AsyncLogging log(optionsFor(dir, milliseconds(50)));
  log.start();
  appendLine(log, numberedLine(0, 0));
  CHECK(eventually([&] { return dir.allText() == numberedLine(0, 0); }));
}

TEST_CASE("lines appended before start(), and after stop(), are written too") {
  TempDir dir;
  {
    AsyncLogging neverStarted(optionsFor(dir));
    appendLine(neverStarted, numberedLine(0, 0));
  }  // the destructor writes it
  CHECK(dir.allText() == numberedLine(0, 0));
  AsyncLogging log(optionsFor(dir));
  log.start();
  appendLine(log, numberedLine(0, 1));
  log.stop();
  appendLine(log, numberedLine(0, 2));  // written at once, by the caller
  CHECK(checkAllLines(dir.allText(), 1, 3) == "");
}

TEST_CASE("destroyed while it is the sink, it makes stderr the sink again") {
  TempDir dir;
  LogSink* gone;
  {
    AsyncLogging log(optionsFor(dir));
    log.start();
    Logger::setSink(&log);
    gone = &log;
    LOG_INFO << "to the file";
  }
  CHECK(&Logger::sink() != gone);
  const std::string text = dir.allText();
  CHECK(text.find(" INFO  to the file - AsyncLoggingTest.cpp:") != std::string::npos);
}

TEST_CASE("LOG_FATAL: the lines before it and its own are in the file when it aborts (a child)") {
  TempDir dir;
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGABRT, SIG_DFL);  // Catch2's handler would report a failure from the child
    AsyncLogging log(optionsFor(dir, milliseconds(3600 * 1000)));
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
  const std::string text = dir.allText();
  CHECK(text.find(" INFO  line 0 - ") != std::string::npos);
  CHECK(text.find(" INFO  line 999 - ") != std::string::npos);
  CHECK(text.find(" FATAL cannot go on - AsyncLoggingTest.cpp:") != std::string::npos);
}

TEST_CASE("overload: with the disk stuck, the front end drops lines, never waits, and says so") {
  TempDir dir;
  AsyncLoggingOptions options = optionsFor(dir);
  options.buffers = 2;
  StuckDisk disk;  // the back end's first write waits until the test lets it go
  options.beforeWrite = [&disk] { disk.wait(); };
  AsyncLogging log(std::move(options));
  log.start();
  // Two buffers hold some 130,000 of these lines: the rest of 300,000 is dropped.
  constexpr int kLines = 300000;
  auto slowest = std::chrono::steady_clock::duration::zero();
  for (int i = 0; i < kLines; ++i) {
    const std::string line = numberedLine(0, i);
    const auto before = std::chrono::steady_clock::now();
    appendLine(log, line);
    slowest = std::max(slowest, std::chrono::steady_clock::now() - before);
  }
  const uint64_t dropped = log.droppedLines();
  disk.open();
  log.stop();
  // Never waited for the stuck back end (30 s): the bound is wide for a loaded machine.
  CHECK(slowest < std::chrono::seconds(1));
  CHECK(dropped > 0);
  CHECK(dropped < static_cast<uint64_t>(kLines));
  // The lines kept are the first ones, whole and in order; then the note with the count.
  const std::string text = dir.allText();
  const size_t note =
      text.find(" WARN  " + std::to_string(dropped) + " log lines dropped in the last ");
  REQUIRE(note != std::string::npos);
  const size_t noteStart = text.rfind('\n', note) + 1;
  CHECK(checkAllLines(text.substr(0, noteStart), 1, kLines - static_cast<int>(dropped)) == "");
  CHECK(text.find("could not keep up - AsyncLogging.cc:", note) != std::string::npos);
  CHECK(text.size() == text.find('\n', note) + 1);  // nothing after the note
}

TEST_CASE("after an overload the note comes first, then the lines taken again") {
  TempDir dir;
  AsyncLoggingOptions options = optionsFor(dir);
  options.buffers = 2;
  std::atomic<bool> stuck{true};
  options.beforeWrite = [&] {  // slow until let go (at most 30 s)
    for (int i = 0; i < 30000 && stuck; ++i) std::this_thread::sleep_for(milliseconds(1));
  };
  AsyncLogging log(std::move(options));
  log.start();
  int logged = 0;
  while (log.droppedLines() == 0 && logged < 1000000) appendLine(log, numberedLine(0, logged++));
  REQUIRE(log.droppedLines() == 1);  // the last line appended
  stuck = false;
  log.flush();  // the back end has written both buffers: they are free again
  const std::string after = "after the overload\n";
  appendLine(log, after);
  log.stop();
  CHECK(log.droppedLines() == 1);
  const std::string text = dir.allText();
  const size_t note = text.find(" WARN  1 log lines dropped in the last ");
  REQUIRE(note != std::string::npos);
  const size_t noteStart = text.rfind('\n', note) + 1;
  CHECK(checkAllLines(text.substr(0, noteStart), 1, logged - 1) == "");
  CHECK(text.substr(text.find('\n', note) + 1) == after);
}

TEST_CASE("a flush() while stop() waits for the back end writes nothing out of turn") {
  TempDir dir;
  AsyncLoggingOptions options = optionsFor(dir, milliseconds(3600 * 1000));
  StuckDisk disk;
  options.beforeWrite = [&disk] { disk.wait(); };
  AsyncLogging log(std::move(options));
  log.start();
  for (int i = 0; i < 100; ++i) appendLine(log, numberedLine(0, i));
  // The back end takes lines 0-99 for a first flush, and is stuck writing them.
  std::thread firstFlush([&] { log.flush(); });
  REQUIRE(eventually([&] { return disk.waiting(); }));
  for (int i = 100; i < 200; ++i) appendLine(log, numberedLine(0, i));
  std::thread stopper([&] { log.stop(); });  // waits for the stuck back end
  // Long enough for stop() to have begun, in all likelihood (if not, the test proves less, and
  // never fails wrongly). A flush() then must not write lines 100-199 itself, ahead of 0-99.
  std::this_thread::sleep_for(milliseconds(200));
  std::atomic<bool> flushed{false};
  std::thread secondFlush([&] {
    log.flush();
    flushed = true;
  });
  std::this_thread::sleep_for(milliseconds(200));
  CHECK_FALSE(flushed);  // it waits for the lines before it, which wait for the disk
  disk.open();
  firstFlush.join();
  secondFlush.join();
  stopper.join();
  CHECK(checkAllLines(dir.allText(), 1, 200) == "");
}
