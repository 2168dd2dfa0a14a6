#include "CrashLog.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "AsyncLogging.h"

namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
constexpr size_t kSignalCount = sizeof kSignals / sizeof kSignals[0];

std::atomic<AsyncLogging*> g_log{nullptr};
struct sigaction g_previous[kSignalCount];

const char* signalName(int signo) {
  switch (signo) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGABRT:
      return "SIGABRT";
    default:
      return "a signal";
  }
}

// A line in the log's format, made with nothing but arithmetic.
class SignalSafeLine {
 public:
  void text(const char* s) {
    while (*s != '\0' && length_ < sizeof line_) line_[length_++] = *s++;
  }
  void number(uint64_t value, int width = 1) {
    char digits[20];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value > 0 && n < 20);
    while (n < width && n < 20) digits[n++] = '0';
    while (n > 0 && length_ < sizeof line_) line_[length_++] = digits[--n];
  }
  // 2026-12-02T06:22:31.123456Z: the civil date from days since 1970 (H. Hinnant's algorithm).
  void time(const timespec& now) {
    const int64_t days = now.tv_sec / 86400;
    const int64_t secondOfDay = now.tv_sec % 86400;
    const int64_t z = days + 719468;
    const int64_t era = z / 146097;
    const int64_t dayOfEra = z - era * 146097;
    const int64_t yearOfEra =
        (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365;
    const int64_t dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
    const int64_t shiftedMonth = (5 * dayOfYear + 2) / 153;
    const int64_t day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1;
    const int64_t month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
    const int64_t year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
    number(static_cast<uint64_t>(year), 4);
    text("-");
    number(static_cast<uint64_t>(month), 2);
    text("-");
    number(static_cast<uint64_t>(day), 2);
    text("T");
    number(static_cast<uint64_t>(secondOfDay / 3600), 2);
    text(":");
    number(static_cast<uint64_t>(secondOfDay / 60 % 60), 2);
    text(":");
    number(static_cast<uint64_t>(secondOfDay % 60), 2);
    text(".");
    number(static_cast<uint64_t>(now.tv_nsec / 1000), 6);
    text("Z");
  }
  const char* data() const { return line_; }
  size_t length() const { return length_; }

 private:
  char line_[256];
  size_t length_ = 0;
};

void onCrash(int signo) {
  // Once, even if several threads crash at the same time.
  if (AsyncLogging* log = g_log.exchange(nullptr)) {
    log->writeOnCrash();
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    SignalSafeLine line;
    line.time(now);
    line.text(" ");
    line.number(static_cast<uint64_t>(::syscall(SYS_gettid)));
    line.text(" FATAL caught ");
    line.text(signalName(signo));
    line.text(" (signal ");
    line.number(static_cast<uint64_t>(signo));
    line.text("): the lines before it were written out; the process ends - CrashLog.cc:");
    line.number(__LINE__);
    line.text("\n");
    const int fd = log->file().crashFd();
    if (::write(fd, line.data(), line.length()) < 0) {
      // Nothing left to tell it to.
    }
  }
  // SA_RESETHAND has put back the default action: raised again, the signal ends the process as
  // it would have without us.
  ::raise(signo);
}

}  // namespace

CrashLog::CrashLog(AsyncLogging* log) {
  g_log.store(log);
  struct sigaction action {};
  action.sa_handler = onCrash;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND | SA_NODEFER;
  for (size_t i = 0; i < kSignalCount; ++i) ::sigaction(kSignals[i], &action, &g_previous[i]);
}

CrashLog::~CrashLog() {
  for (size_t i = 0; i < kSignalCount; ++i) ::sigaction(kSignals[i], &g_previous[i], nullptr);
  g_log.store(nullptr);
}
