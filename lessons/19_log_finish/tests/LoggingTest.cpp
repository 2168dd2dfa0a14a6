#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "Catch.h"
#include "Logging.h"
#include "Regex.h"

namespace {

// Keeps every line it is given, for the test to read.
class CaptureSink : public LogSink {
 public:
  void append(const char* line, size_t len) override {
    std::lock_guard<std::mutex> lock(mutex_);
    lines_.emplace_back(line, len);
  }
  void flush() override {}

  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

// Sends the log to `sink` at `level` for the scope, then back to stderr at INFO.
class LogTo {
 public:
  LogTo(LogSink* sink, LogLevel level) {
    Logger::setSink(sink);
    Logger::setLogLevel(level);
  }
  ~LogTo() {
    Logger::setSink(nullptr);
    Logger::setLogLevel(LogLevel::kInfo);
  }
};

// The documented format: time (UTC, microseconds), thread id, level padded to 5, message,
// " - file:line", newline.
const std::regex kLine(
    R"(^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.\d{6}Z (\d+) (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) (.*) - ([^ ]+):(\d+)\n$)");

int counted = 0;
int countCall() { return ++counted; }

}  // namespace

TEST_CASE("a line has the documented format: UTC time, thread id, level, message, file:line") {
  CaptureSink sink;
  LogTo logTo(&sink, LogLevel::kInfo);
  const time_t before = std::time(nullptr);
  const std::string peer = "127.0.0.1:40000";
  const int line = __LINE__ + 1;  // the line of the next statement
  LOG_INFO << "accepted " << peer << " (" << 3 << " clients)";
  const time_t after = std::time(nullptr);
  const std::vector<std::string> lines = sink.lines();
  REQUIRE(lines.size() == 1);
  std::smatch m;
  REQUIRE(std::regex_match(lines[0], m, kLine));
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  const time_t stamped = ::timegm(&tm);
  CHECK(before <= stamped);
  CHECK(stamped <= after);
  CHECK(std::stol(m[7]) == ::syscall(SYS_gettid));
  CHECK(m[8] == "INFO ");
  CHECK(m[9] == "accepted 127.0.0.1:40000 (3 clients)");
  CHECK(m[10] == "LoggingTest.cpp");
  CHECK(std::stoi(m[11]) == line);
}

TEST_CASE("below the level nothing is written and the arguments are not even evaluated") {
  CaptureSink sink;
  LogTo logTo(&sink, LogLevel::kWarn);
  counted = 0;
  LOG_TRACE << countCall();
  LOG_DEBUG << countCall();
  LOG_INFO << countCall();
  CHECK(counted == 0);
  CHECK(sink.lines().empty());
  LOG_WARN << countCall();
  LOG_ERROR << countCall();
  CHECK(counted == 2);
  const std::vector<std::string> lines = sink.lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find(" WARN  1 - ") != std::string::npos);
  CHECK(lines[1].find(" ERROR 2 - ") != std::string::npos);
}

TEST_CASE("every level has its name, and TRACE logs everything") {
  CaptureSink sink;
  LogTo logTo(&sink, LogLevel::kTrace);
  LOG_TRACE << "t";
  LOG_DEBUG << "d";
  LOG_INFO << "i";
  LOG_WARN << "w";
  LOG_ERROR << "e";
  const std::vector<std::string> lines = sink.lines();
  REQUIRE(lines.size() == 5);
  const char* const expected[] = {"TRACE t", "DEBUG d", "INFO  i", "WARN  w", "ERROR e"};
  for (size_t i = 0; i < lines.size(); ++i) {
    INFO(lines[i]);
    CHECK(std::regex_match(lines[i], kLine));
    CHECK(lines[i].find(expected[i]) != std::string::npos);
  }
}

TEST_CASE("a LOG statement does not capture the else of the if-statement around it") {
  CaptureSink sink;
  LogTo logTo(&sink, LogLevel::kInfo);
  bool elseTaken = false;
  const bool condition = false;
  if (condition)
    LOG_INFO << "not logged";
  else
    elseTaken = true;
  CHECK(elseTaken);
  CHECK(sink.lines().empty());
}

TEST_CASE("LOG_SYSERR ends the message with errno's text and number, and leaves errno alone") {
  CaptureSink sink;
  LogTo logTo(&sink, LogLevel::kInfo);
  errno = EAGAIN;
  LOG_SYSERR(ECONNRESET) << "read from conn 7";
  CHECK(errno == EAGAIN);
  LOG_SYSWARN(EPIPE) << "write to conn 7";
  const std::vector<std::string> lines = sink.lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find(" ERROR read from conn 7: Connection reset by peer (errno " +
                      std::to_string(ECONNRESET) + ") - LoggingTest.cpp:") != std::string::npos);
  CHECK(lines[1].find(" WARN  write to conn 7: Broken pipe (errno " + std::to_string(EPIPE) +
                      ") - ") != std::string::npos);
}

TEST_CASE("a message too long for a line is cut, and the line still ends with file:line") {
  CaptureSink sink;
  LogTo logTo(&sink, LogLevel::kInfo);
  LOG_WARN << std::string(3 * kLogLineSize, 'z');
  const std::vector<std::string> lines = sink.lines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].size() == kLogLineSize);
  CHECK(std::regex_match(lines[0], kLine));
}

TEST_CASE("parseLevel takes the six names in either case, and nothing else") {
  CHECK(Logger::parseLevel("trace") == LogLevel::kTrace);
  CHECK(Logger::parseLevel("DEBUG") == LogLevel::kDebug);
  CHECK(Logger::parseLevel("info") == LogLevel::kInfo);
  CHECK(Logger::parseLevel("Warn") == LogLevel::kWarn);
  CHECK(Logger::parseLevel("error") == LogLevel::kError);
  CHECK(Logger::parseLevel("FATAL") == LogLevel::kFatal);
  CHECK_FALSE(Logger::parseLevel(""));
  CHECK_FALSE(Logger::parseLevel("inf"));
  CHECK_FALSE(Logger::parseLevel("information"));
  CHECK_FALSE(Logger::parseLevel("warning"));
  CHECK(std::string(Logger::levelName(LogLevel::kWarn)) == "WARN");
}

TEST_CASE("lines from several threads reach stderr whole, one write each") {
  // stderr sent to a file for the test, and back.
  char path[] = "/tmp/logging-test-XXXXXX";
  const int file = ::mkstemp(path);
  REQUIRE(file >= 0);
  ::unlink(path);
  std::fflush(stderr);
  const int savedStderr = ::dup(STDERR_FILENO);
  REQUIRE(savedStderr >= 0);
  REQUIRE(::dup2(file, STDERR_FILENO) == STDERR_FILENO);
  constexpr int kThreads = 4;
  constexpr int kLines = 500;
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([t] {
        for (int i = 0; i < kLines; ++i) {
          LOG_INFO << "thread " << t << " line " << i << ' ' << std::string(100, 'a' + t);
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  REQUIRE(::dup2(savedStderr, STDERR_FILENO) == STDERR_FILENO);
  ::close(savedStderr);
  std::string text;
  char buffer[65536];
  ssize_t n;
  while ((n = ::pread(file, buffer, sizeof buffer, static_cast<off_t>(text.size()))) > 0) {
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(file);
  int lines = 0;
  std::vector<int> next(kThreads, 0);  // each thread's lines in its own order
  size_t start = 0;
  const std::regex message(R"(thread (\d) line (\d+) ([a-d])\3{99})");
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    REQUIRE(end != std::string::npos);
    const std::string line = text.substr(start, end + 1 - start);
    start = end + 1;
    std::smatch m;
    REQUIRE(std::regex_match(line, m, kLine));
    const std::string body = m[9];
    std::smatch b;
    REQUIRE(std::regex_match(body, b, message));
    const int thread = std::stoi(b[1]);
    CHECK(std::stoi(b[2]) == next[thread]++);
    ++lines;
  }
  CHECK(lines == kThreads * kLines);
}

TEST_CASE("LOG_FATAL writes its line, flushes and aborts (a death test, in a child)") {
  int pipeFds[2];
  REQUIRE(::pipe(pipeFds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGABRT, SIG_DFL);  // Catch2's handler would report a failure from the child
    ::dup2(pipeFds[1], STDERR_FILENO);
    LOG_FATAL << "cannot go on";
    ::_exit(0);  // reached only if it did not abort
  }
  ::close(pipeFds[1]);
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(pipeFds[0], buffer, sizeof buffer)) > 0)
    text.append(buffer, static_cast<size_t>(n));
  ::close(pipeFds[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  CHECK(std::regex_match(text, kLine));
  CHECK(text.find(" FATAL cannot go on - LoggingTest.cpp:") != std::string::npos);
  // The child's own thread id (its one thread's is its pid), not the one cached in the parent.
  std::smatch m;
  REQUIRE(std::regex_match(text, m, kLine));
  CHECK(std::stol(m[7]) == child);
}
