#include "Logging.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <ctime>
#include <string>

#include "ErrnoText.h"

std::atomic<LogLevel> Logger::threshold_{LogLevel::kInfo};
std::atomic<LogSink*> Logger::sink_{nullptr};

namespace {

// Each line to stderr with one write(2): a pipe or a file opened with O_APPEND takes it whole, so
// the lines of several threads do not mix. The write blocks for as long as the terminal, the pipe
// or the disk takes, in the thread that logs: the problem of lesson 18.
class StderrSink : public LogSink {
 public:
  void append(const char* line, size_t len) override {
    while (len > 0) {
      const ssize_t n = ::write(STDERR_FILENO, line, len);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // no stderr to complain to: the line is lost
      }
      line += n;
      len -= static_cast<size_t>(n);
    }
  }
  void flush() override {}  // nothing is buffered
};

// What the time stamp of a line needs, per thread: the kernel's thread id (the number `top -H`
// and /proc show), and the date and time to the second, formatted again only when the second
// changes (gmtime_r and its formatting cost more than the rest of a line).
struct ThreadCache {
  char tid[16];
  size_t tidLength = 0;
  time_t second = -1;
  char dateTime[24];  // 2026-12-02T06:22:31
  size_t dateTimeLength = 0;
};
thread_local ThreadCache t_cache;

// A child made by fork() is another process, whose thread has another id: the id cached by the
// thread that forked is forgotten in the child.
const int kForgetThreadIdInChild =
    ::pthread_atfork(nullptr, nullptr, [] { t_cache.tidLength = 0; });

void cacheThreadId() {
  const auto result = std::to_chars(t_cache.tid, t_cache.tid + sizeof t_cache.tid,
                                    static_cast<long>(::syscall(SYS_gettid)));
  t_cache.tidLength = static_cast<size_t>(result.ptr - t_cache.tid);
}

void cacheDateTime(time_t second) {
  std::tm tm{};
  ::gmtime_r(&second, &tm);
  t_cache.dateTimeLength =
      std::strftime(t_cache.dateTime, sizeof t_cache.dateTime, "%Y-%m-%dT%H:%M:%S", &tm);
  t_cache.second = second;
}

// " - Socket.cc:123\n": room for a file name of 100 characters (a longer one is cut) and a line
// number.
constexpr size_t kMaxFileNameSize = 100;
constexpr size_t kMaxTailSize = 3 + kMaxFileNameSize + 1 + 11 + 1;

size_t formatTail(char* tail, const char* file, int line) {
  std::string_view name(file);
  const size_t slash = name.rfind('/');  // __FILE__ may hold directories
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  name = name.substr(0, kMaxFileNameSize);
  char* out = tail;
  *out++ = ' ';
  *out++ = '-';
  *out++ = ' ';
  name.copy(out, name.size());
  out += name.size();
  *out++ = ':';
  out = std::to_chars(out, tail + kMaxTailSize - 1, line).ptr;
  *out++ = '\n';
  return static_cast<size_t>(out - tail);
}

// Padded to 5 characters, so that the messages line up.
const char* const kLevelNames[] = {"TRACE", "DEBUG", "INFO ", "WARN ", "ERROR", "FATAL"};

}  // namespace

Logger::Logger(const char* file, int line, LogLevel level)
    : file_(file), line_(line), level_(level), savedErrno_(-1) {
  formatHeader();
}

Logger::Logger(const char* file, int line, LogLevel level, int savedErrno)
    : file_(file), line_(line), level_(level), savedErrno_(savedErrno) {
  formatHeader();
}

void Logger::formatHeader() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);  // a wall-clock time for people, unlike Timestamp's
  if (now.tv_sec != t_cache.second) cacheDateTime(now.tv_sec);
  if (t_cache.tidLength == 0) cacheThreadId();
  // ".123456Z ": the microseconds with their leading zeros.
  char micros[9] = {'.', '0', '0', '0', '0', '0', '0', 'Z', ' '};
  for (int i = 6, value = static_cast<int>(now.tv_nsec / 1000); value > 0; --i, value /= 10) {
    micros[i] = static_cast<char>('0' + value % 10);
  }
  stream_.append(t_cache.dateTime, t_cache.dateTimeLength);
  stream_.append(micros, sizeof micros);
  stream_.append(t_cache.tid, t_cache.tidLength);
  stream_ << ' ' << kLevelNames[static_cast<int>(level_)] << ' ';
}

Logger::~Logger() {
  const int callersErrno = errno;  // a log statement leaves errno as it found it
  if (savedErrno_ >= 0) {
    stream_ << ": " << errnoText(savedErrno_) << " (errno " << savedErrno_ << ')';
  }
  // The end of the line always fits: a message too long for the line is cut to make room for it.
  char tail[kMaxTailSize];
  const size_t tailLength = formatTail(tail, file_, line_);
  stream_.cutTo(kLogLineSize - tailLength);
  stream_.append(tail, tailLength);
  LogSink& out = sink();
  out.append(stream_.buffer().data(), stream_.buffer().length());
  if (level_ == LogLevel::kFatal) {
    out.flush();
    std::abort();
  }
  errno = callersErrno;
}

LogSink& Logger::sink() {
  // Made at the first line; it holds nothing, and the library's threads have all been joined by
  // the time it is destroyed, after main().
  static StderrSink stderrSink;
  LogSink* const chosen = sink_.load(std::memory_order_acquire);
  return chosen != nullptr ? *chosen : stderrSink;
}

const char* Logger::levelName(LogLevel level) {
  static const char* const names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
  return names[static_cast<int>(level)];
}

std::optional<LogLevel> Logger::parseLevel(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(LogLevel::kFatal); ++i) {
    const std::string_view candidate = levelName(static_cast<LogLevel>(i));
    if (name.size() != candidate.size()) continue;
    bool same = true;
    for (size_t k = 0; k < name.size() && same; ++k) {
      same = name[k] == candidate[k] || name[k] == candidate[k] - 'A' + 'a';
    }
    if (same) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}
