// Logging: what one LOG_INFO line costs the thread that logs it, how many lines per second reach a
// file, and whether every line logged is in the file at the end, for one lesson's logger (17 and
// later): its default sink, which writes each line to stderr with one write(2), and its
// AsyncLogging (18 and later), which copies the line into a buffer that a thread of its own writes
// to a file.
//
// The line is a typical one, a string and two integers:
//
//   LOG_INFO << "accepted connection " << peer << " fd " << fd << " total " << total;
//
// (peer a std::string such as "127.0.0.1:40000"), about 110 bytes with the Logger's time stamp,
// thread id, level and source. Each logging thread numbers its lines: fd is 10 + the thread's
// index, total counts 0, 1, 2, ... so that the lines found afterwards can be checked one by one.
//
// The sink (--sink):
//
//   stderr-file  the lesson's default sink; the program points its stderr (fd 2) at DIR/stderr.log,
//                opened with O_APPEND as `2>>` would (DIR on tmpfs: the cost of the write(2)
//                without a disk)
//   stderr-null  the same, fd 2 on /dev/null: the write(2) that does nothing
//   stderr-pipe  the same, fd 2 a pipe that a thread of the program reads slowly (--pipe-bytes
//                every --pipe-period-ms: a terminal, or a log collector, that cannot keep up)
//   async-file   the lesson's AsyncLogging, writing into DIR (lesson 18: DIR/async.log; 19: the
//                files it names and rolls there), started before and stopped after the lines
//
// The program's own messages go to the stderr it was started with (kept on another descriptor).
//
// The mode (--mode):
//
//   latency     T threads (--threads), released together, each log --lines lines, and time each
//               LOG_INFO statement alone: CLOCK_MONOTONIC read before and after it. The cost of an
//               empty pair of reads (their median, measured first) is subtracted from every
//               figure. Each thread first logs an untimed warm-up (--warm-up lines; by default
//               1,000, at most a tenth of --lines), then the sink is flushed (AsyncLogging's back
//               end is running, and has written the warm-up: its buffers are free again); the
//               timed lines stop early after --seconds. A warm-up of more lines than AsyncLogging's
//               buffers hold has written to all of their memory: what is timed then is a logger
//               that has run a while, without the page faults of memory touched for the first
//               time. The median, p99, p99.9 and maximum are over every
//               timed call of every thread: wall-clock time, so a call that lost its core to
//               another thread counts with that time.
//   throughput  T threads, released together, log --lines lines between them (no timing per call).
//               The time runs from their release until every line is in the file: until the last
//               thread has finished (each write(2) of the stderr sinks has put its line in the file
//               by then), or until AsyncLogging::stop() has returned.
//
// After the lines: for the file sinks the files in DIR are read, and for stderr-pipe the reader
// reads to the end of the pipe, and every line is checked: `lost` is the lines logged that are not
// there; `disorder` a line of a thread found again, or before one logged earlier (never expected);
// `other` a line that is not one of the benchmark's (lesson 19 writes a WARN line after dropping
// lines). Lesson 19's AsyncLogging counts the lines it dropped by design: `dropped`.
//
// Also counted from the start of the timed part until every line is in the file (stop() included,
// reading the files back not): minor page faults of the whole process (each costs microseconds on
// a VM: memory touched for the first time), and allocations of 1 MiB or more made by the logging
// threads (a log buffer made in append(), under AsyncLogging's mutex).
//
// Built against one lesson's own src/ by tools/bench/log/CMakeLists.txt (LOG_BENCH_ASYNC says which
// AsyncLogging the lesson has, if any), and run by tools/bench/log-bench, which gives each run a
// fresh DIR and removes it afterwards.
//
// Exit codes: 0 ok (lost lines are a figure, not a failure); 1 a line found twice or out of order,
// a system call failed, or the run took longer than --timeout seconds; 2 bad usage.
//
//   log --sink stderr-file|stderr-null|stderr-pipe|async-file --dir DIR [--mode latency|throughput]
//       [--threads 1] [--lines 200000] [--warm-up W] [--seconds 10] [--timeout 120]
//       [--pipe-bytes 4096] [--pipe-period-ms 1]
//
// The last line is machine-readable: `result mode=... sink=... threads=... logged=... dropped=...
// faults=... big_allocations=... log_seconds=... seconds=... lines_per_s=...`, then, but for
// stderr-null, `found=... lost=... disorder=... other=... bytes=...` and, in latency mode,
// `empty_pair_ns=... median_ns=... p99_ns=... p999_ns=... max_ns=... over_1us=... over_100us=...
// over_1ms=...` (figures with the empty pair subtracted; over_X: calls that took longer than X).
// log_seconds: until the last line was logged; seconds: until it was in the file (throughput) or
// read from the pipe (stderr-pipe); lines_per_s: throughput, the lines in the file (a line dropped
// or lost is not one) per second; latency, the timed lines per second (a by-product).

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "Logging.h"
#if LOG_BENCH_ASYNC
#include "AsyncLogging.h"
#endif
#include "cli.h"
#include "watchdog.h"

// ---- Large allocations by the logging threads ---------------------------------------------------
// Only the plain operator new is replaced (libstdc++'s array and nothrow forms go through it, and
// its operator delete calls free): it counts the blocks of 1 MiB or more that a logging thread asks
// for, which in a logger can only be a log buffer. noipa: GCC would otherwise see the malloc inside
// it at the call sites, and warn that the library's operator delete frees what malloc returned.

namespace {

constexpr std::size_t kLargeAllocation = 1 << 20;
thread_local bool t_logging = false;  // set in the logging threads
std::atomic<uint64_t> largeAllocationCount{0};

}  // namespace

[[gnu::noipa]] void* operator new(std::size_t size) {
  if (size >= kLargeAllocation && t_logging)
    largeAllocationCount.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

namespace {

const Program kProgram("log");

constexpr int kFirstFd = 10;                    // the fd of thread 0's lines
constexpr uint64_t kDefaultWarmUpLines = 1000;  // at most a tenth of the timed lines
constexpr int kEmptyPairs = 100000;

struct Options {
  std::string sink;
  std::string dir;
  std::string mode = "latency";
  int threads = 1;
  int lines = 200000;  // per thread (latency), or all threads' together (throughput)
  int warmUp = -1;     // untimed lines per thread first (latency); -1: the default
  double seconds = 10;
  double timeout = 120;
  int pipeBytes = 4096;
  double pipePeriodMs = 1;
};

Options parseOptions(int argc, char* argv[]) {
  Options o;
  const CommandLine commandLine(
      kProgram, {{"--sink", "stderr-file|stderr-null|stderr-pipe|async-file", &o.sink, 0, 0, true},
                 {"--dir", "DIR", &o.dir, 0, 0, true},
                 {"--mode", "latency|throughput", &o.mode},
                 {"--threads", "T", &o.threads, 1, 16},
                 {"--lines", "N", &o.lines, 1, 20000000},
                 {"--warm-up", "W", &o.warmUp, 0, 20000000},
                 {"--seconds", "S", &o.seconds, 0.1, 600},
                 {"--timeout", "S", &o.timeout, 1, 3600},
                 {"--pipe-bytes", "B", &o.pipeBytes, 1, 1 << 20},
                 {"--pipe-period-ms", "MS", &o.pipePeriodMs, 0.01, 1000}});
  commandLine.parse(argc, argv);
  const std::vector<std::string> sinks = {"stderr-file", "stderr-null", "stderr-pipe",
                                          "async-file"};
  if (std::find(sinks.begin(), sinks.end(), o.sink) == sinks.end()) {
    commandLine.usageError("unknown --sink " + o.sink);
  }
  if (o.sink == "async-file" && !LOG_BENCH_ASYNC) {
    commandLine.usageError("--sink async-file: this lesson has no AsyncLogging (lesson 18 on)");
  }
  if (o.mode != "latency" && o.mode != "throughput") {
    commandLine.usageError("--mode must be latency or throughput, not " + o.mode);
  }
  return o;
}

int64_t monotonicNs() {
  timespec t{};
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

uint64_t minorFaults() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_minflt);
}

// The line under test.
void logLine(const std::string& peer, int fd, uint64_t total) {
  LOG_INFO << "accepted connection " << peer << " fd " << fd << " total " << total;
}

std::string peerOf(int thread) { return "127.0.0.1:" + std::to_string(40000 + thread); }

// ---- Checking the lines found -------------------------------------------------------------------

// Reads the log as it comes, in chunks (a file, a pipe), line by line: each of the benchmark's
// lines names its thread (fd) and its number (total), and each thread's numbers must come in
// order, each once. Lines missing in the middle or at the end are lost.
class LineCheck {
 public:
  explicit LineCheck(int threads) : next_(static_cast<size_t>(threads), 0) {}

  void feed(const char* data, size_t len) {
    bytes_ += len;
    while (len > 0) {
      const char* end = static_cast<const char*>(std::memchr(data, '\n', len));
      if (end == nullptr) {
        partial_.append(data, len);
        return;
      }
      const size_t n = static_cast<size_t>(end - data);
      if (partial_.empty()) {
        line(std::string_view(data, n));
      } else {
        partial_.append(data, n);
        line(partial_);
        partial_.clear();
      }
      data += n + 1;
      len -= n + 1;
    }
  }

  // The end of one file: a last line without its newline was cut.
  void endOfFile() {
    if (!partial_.empty()) noteOther(partial_ + " [cut: no newline]");
    partial_.clear();
  }

  uint64_t found() const { return found_; }
  uint64_t disorder() const { return disorder_; }
  uint64_t other() const { return other_; }
  uint64_t bytes() const { return bytes_; }
  const std::string& firstOther() const { return firstOther_; }
  // Lines logged and not found: the numbers skipped, and those after the last one found.
  uint64_t lost(const std::vector<uint64_t>& logged) const {
    uint64_t lost = skipped_;
    for (size_t t = 0; t < next_.size(); ++t)
      lost += logged[t] > next_[t] ? logged[t] - next_[t] : 0;
    return lost;
  }

 private:
  void line(std::string_view text) {
    const size_t at = text.find("accepted connection ");
    const size_t fdAt = text.find(" fd ", at);
    const size_t totalAt = text.find(" total ", fdAt);
    if (at == std::string_view::npos || fdAt == std::string_view::npos ||
        totalAt == std::string_view::npos) {
      noteOther(text);
      return;
    }
    const long thread = std::strtol(text.data() + fdAt + 4, nullptr, 10) - kFirstFd;
    const uint64_t number = std::strtoull(text.data() + totalAt + 7, nullptr, 10);
    if (thread < 0 || static_cast<size_t>(thread) >= next_.size()) {
      noteOther(text);
      return;
    }
    uint64_t& next = next_[static_cast<size_t>(thread)];
    ++found_;
    if (number < next) {
      ++disorder_;
      return;
    }
    skipped_ += number - next;
    next = number + 1;
  }

  void noteOther(std::string_view text) {
    if (other_++ == 0) firstOther_ = std::string(text.substr(0, 300));
  }

  std::vector<uint64_t> next_;  // by thread: the number expected next
  std::string partial_;         // a line begun in the last chunk
  uint64_t found_ = 0;
  uint64_t disorder_ = 0;
  uint64_t skipped_ = 0;
  uint64_t other_ = 0;
  uint64_t bytes_ = 0;
  std::string firstOther_;
};

// Every regular file in `dir`, by name (lesson 19's names sort in the order written), into `check`.
void readFiles(const std::string& dir, LineCheck* check) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) kProgram.failErrno("opendir " + dir);
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(d)) {
    const std::string path = dir + "/" + entry->d_name;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) names.push_back(path);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  std::vector<char> chunk(1 << 20);
  for (const std::string& path : names) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) kProgram.failErrno("open " + path);
    ssize_t n;
    while ((n = ::read(fd, chunk.data(), chunk.size())) > 0) {
      check->feed(chunk.data(), static_cast<size_t>(n));
    }
    if (n < 0) kProgram.failErrno("read " + path);
    ::close(fd);
    check->endOfFile();
  }
}

// ---- The sinks ----------------------------------------------------------------------------------

// Reads the read end of a pipe slowly, `bytes` every `periodMs` at most, until its end, into a
// LineCheck; finish() waits for that end and notes when it came.
class SlowReader {
 public:
  SlowReader(int fd, int bytes, double periodMs, LineCheck* check)
      : thread_([this, fd, bytes, periodMs, check] {
          std::vector<char> chunk(static_cast<size_t>(bytes));
          const auto period = static_cast<int64_t>(periodMs * 1e6);
          int64_t next = monotonicNs();
          for (;;) {
            const ssize_t n = ::read(fd, chunk.data(), chunk.size());
            if (n == 0) break;
            if (n < 0) {
              if (errno == EINTR) continue;
              kProgram.failErrno("read from the pipe");
            }
            check->feed(chunk.data(), static_cast<size_t>(n));
            // The next read a period after this one's turn; one that came late waits a whole one.
            next = std::max(next + period, monotonicNs());
            const timespec until{static_cast<time_t>(next / 1000000000), next % 1000000000};
            while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr) == EINTR) {
            }
          }
          check->endOfFile();
          ::close(fd);
          endNs_ = monotonicNs();
        }) {}

  int64_t finish() {
    thread_.join();
    return endNs_;
  }

 private:
  int64_t endNs_ = 0;
  std::thread thread_;  // last: it starts once the members it uses exist
};

void moveOnto(int fd, int target, const std::string& what) {
  if (fd < 0) kProgram.failErrno(what);
  if (::dup2(fd, target) < 0) kProgram.failErrno("dup2 " + what);
  ::close(fd);
}

// The sink the lines go to, set up before the lines and finished after them.
class Sink {
 public:
  Sink(const Options& o, LineCheck* check) : o_(o), check_(check) {
    if (o.sink == "async-file") {
#if LOG_BENCH_ASYNC
      async_ = makeAsyncLogging(o.dir);
      async_->start();
      Logger::setSink(async_.get());
#endif
      return;
    }
    // The lesson's stderr sink writes to fd 2: that is what is pointed at the file, /dev/null or
    // the pipe. The program's own messages (cli.h's Program::fail, the watchdog) go through the
    // FILE stderr, which glibc lets a program replace: it now writes, unbuffered, to the stderr the
    // program was started with.
    FILE* const messages = ::fdopen(::dup(STDERR_FILENO), "w");
    if (messages == nullptr) kProgram.failErrno("fdopen");
    std::setvbuf(messages, nullptr, _IONBF, 0);
    stderr = messages;
    if (o.sink == "stderr-file") {
      const std::string path = o.dir + "/stderr.log";
      moveOnto(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644), STDERR_FILENO,
               path);
    } else if (o.sink == "stderr-null") {
      moveOnto(::open("/dev/null", O_WRONLY | O_CLOEXEC), STDERR_FILENO, "/dev/null");
    } else {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) < 0) kProgram.failErrno("pipe2");
      moveOnto(fds[1], STDERR_FILENO, "the pipe");
      reader_ = std::make_unique<SlowReader>(fds[0], o.pipeBytes, o.pipePeriodMs, check_);
    }
  }

  // Every line logged is in the file (or the pipe's end has been read) when this returns, with
  // the time it did.
  int64_t finish() {
    int64_t end = monotonicNs();
#if LOG_BENCH_ASYNC
    if (async_) {
      async_->stop();
      end = monotonicNs();
      dropped_ = droppedLines(async_.get());
      Logger::setSink(nullptr);
      async_.reset();
    }
#endif
    if (reader_) {  // the pipe's last write end goes: the reader reads what is left, then its end
      moveOnto(::open("/dev/null", O_WRONLY | O_CLOEXEC), STDERR_FILENO, "/dev/null");
      end = reader_->finish();
    }
    return end;
  }

  // After finish(): the lines in the files, into the LineCheck (the pipe's reader has fed it).
  void readBack() {
    if (o_.sink != "stderr-pipe" && o_.sink != "stderr-null") readFiles(o_.dir, check_);
  }

  uint64_t dropped() const { return dropped_; }

 private:
#if LOG_BENCH_ASYNC
  // Lesson 18's AsyncLogging writes to the one file it is given; lesson 19's takes
  // AsyncLoggingOptions, with the directory in which it names and rolls its files (the defaults
  // otherwise). Either way the lines are in `dir`, which holds nothing else.
  static std::unique_ptr<AsyncLogging> makeAsyncLogging(const std::string& dir) {
#if LOG_BENCH_ASYNC == 2
    AsyncLoggingOptions options;
    options.dir = dir;
    options.baseName = "async";
    return std::make_unique<AsyncLogging>(options);
#else
    return std::make_unique<AsyncLogging>(dir + "/async.log");
#endif
  }

  // Lines dropped by design: lesson 19 drops when no buffer is free; 18 never drops (it allocates).
  static uint64_t droppedLines(AsyncLogging* log) {
#if LOG_BENCH_ASYNC == 2
    return log->droppedLines();
#else
    (void)log;
    return 0;
#endif
  }

  std::unique_ptr<AsyncLogging> async_;
#endif
  const Options& o_;
  LineCheck* check_;
  std::unique_ptr<SlowReader> reader_;
  uint64_t dropped_ = 0;
};

// ---- The logging threads ------------------------------------------------------------------------

// Lets the logging threads start together: each says it is ready, then waits for go().
class StartLine {
 public:
  void ready() {
    ready_.fetch_add(1);
    while (!go_.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  void waitReady(int threads) {
    while (ready_.load() < threads) std::this_thread::yield();
  }
  void go() { go_.store(true, std::memory_order_release); }

 private:
  std::atomic<int> ready_{0};
  std::atomic<bool> go_{false};
};

struct ThreadRun {
  std::vector<uint32_t> ns;  // latency: each timed call, the empty pair not yet subtracted
  uint64_t logged = 0;       // warm-up included
  int64_t endNs = 0;
};

// The median of `pairs` empty pairs of clock reads: what the timing itself adds to each call.
int64_t emptyPairNs(int pairs) {
  std::vector<int64_t> ns(static_cast<size_t>(pairs));
  for (int64_t& d : ns) {
    const int64_t t0 = monotonicNs();
    const int64_t t1 = monotonicNs();
    d = t1 - t0;
  }
  std::nth_element(ns.begin(), ns.begin() + pairs / 2, ns.end());
  return ns[static_cast<size_t>(pairs / 2)];
}

std::atomic<const char*> phase{"set-up"};

struct Report {
  int64_t startNs = 0;
  int64_t logEndNs = 0;  // the last thread's last line logged
  int64_t endNs = 0;     // every line in the file, or read from the pipe
  uint64_t faults = 0;
  uint64_t largeAllocations = 0;
  std::vector<ThreadRun> threads;
};

Report runThreads(const Options& o, Sink* sink) {
  const bool latency = o.mode == "latency";
  const int threads = o.threads;
  const uint64_t share =
      latency ? static_cast<uint64_t>(o.lines) : static_cast<uint64_t>(o.lines / threads);
  const uint64_t warmUp = !latency        ? 0
                          : o.warmUp >= 0 ? static_cast<uint64_t>(o.warmUp)
                                          : std::min<uint64_t>(kDefaultWarmUpLines, share / 10);
  Report report;
  report.threads.resize(static_cast<size_t>(threads));
  // Touched now (value-initialised), not as the timed loop first writes to it.
  if (latency) {
    for (ThreadRun& run : report.threads) run.ns.assign(share, 0);
  }
  StartLine warmedUp;
  StartLine start;
  std::atomic<int64_t> deadline{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    // Throughput: the first threads take the remainder, one line each.
    const uint64_t lines =
        share + (!latency && static_cast<uint64_t>(t) < static_cast<uint64_t>(o.lines % threads));
    workers.emplace_back([&, t, lines] {
      t_logging = true;
      ThreadRun& run = report.threads[static_cast<size_t>(t)];
      const std::string peer = peerOf(t);
      const int fd = kFirstFd + t;
      uint64_t total = 0;
      for (; total < warmUp; ++total) logLine(peer, fd, total);
      warmedUp.ready();
      start.ready();
      const int64_t until = deadline.load();
      if (latency) {
        uint32_t* sample = run.ns.data();
        for (uint64_t i = 0; i < lines; ++i, ++total) {
          const int64_t t0 = monotonicNs();
          logLine(peer, fd, total);
          const int64_t t1 = monotonicNs();
          *sample++ = static_cast<uint32_t>(std::min<int64_t>(t1 - t0, UINT32_MAX));
          if (t1 > until) break;
        }
        run.ns.resize(static_cast<size_t>(sample - run.ns.data()));
        total = warmUp + run.ns.size();
      } else {
        for (uint64_t i = 0; i < lines; ++i, ++total) {
          logLine(peer, fd, total);
          if (i % 4096 == 4095 && monotonicNs() > until) {
            ++total;
            break;
          }
        }
      }
      run.logged = total;
      run.endNs = monotonicNs();
    });
  }
  warmedUp.waitReady(threads);
  Logger::sink().flush();  // AsyncLogging's back end is running, and has written the warm-up
  warmedUp.go();
  start.waitReady(threads);
  phase = "timed";
  report.faults = minorFaults();
  report.largeAllocations = largeAllocationCount.load();
  report.startNs = monotonicNs();
  deadline = report.startNs + static_cast<int64_t>(o.seconds * 1e9);
  start.go();
  for (std::thread& worker : workers) worker.join();
  for (const ThreadRun& run : report.threads)
    report.logEndNs = std::max(report.logEndNs, run.endNs);
  phase = "finish";
  report.endNs = sink->finish();
  report.faults = minorFaults() - report.faults;
  report.largeAllocations = largeAllocationCount.load() - report.largeAllocations;
  return report;
}

// The nearest-rank percentile q (0..1) of sorted values.
uint32_t percentile(const std::vector<uint32_t>& sorted, double q) {
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

}  // namespace

int main(int argc, char* argv[]) {
  const Options o = parseOptions(argc, argv);
  std::printf("log: %s, %s, %d thread%s, %d lines%s\n", o.sink.c_str(), o.mode.c_str(), o.threads,
              o.threads == 1 ? "" : "s", o.lines, o.mode == "latency" ? " per thread" : " in all");
  std::fflush(stdout);
  // A reader or a back end that never reached the end would wait for ever.
  Watchdog watchdog(kProgram, o.timeout, [] {
    return std::string(", in its ") + phase.load() + " phase: the machine is far too busy, or a " +
           "line never reached its end";
  });
  const int64_t emptyPair = o.mode == "latency" ? emptyPairNs(kEmptyPairs) : 0;

  LineCheck check(o.threads);
  std::vector<uint64_t> logged;
  Report report;
  uint64_t dropped = 0;
  {
    Sink sink(o, &check);
    report = runThreads(o, &sink);
    sink.readBack();
    dropped = sink.dropped();
  }
  watchdog.finish();
  uint64_t total = 0;           // lines logged, warm-up included
  uint64_t timedLines = 0;      // lines logged in the timed part
  std::vector<uint32_t> calls;  // latency: every timed call, sorted
  for (const ThreadRun& run : report.threads) {
    logged.push_back(run.logged);
    total += run.logged;
    timedLines += o.mode == "latency" ? run.ns.size() : run.logged;
    calls.insert(calls.end(), run.ns.begin(), run.ns.end());
  }
  std::sort(calls.begin(), calls.end());
  const bool checked = o.sink != "stderr-null";
  const uint64_t lost = checked ? check.lost(logged) : 0;
  const double logSeconds = static_cast<double>(report.logEndNs - report.startNs) / 1e9;
  const double seconds = static_cast<double>(report.endNs - report.startNs) / 1e9;
  // Throughput: the lines that reached the file (or the pipe); a line dropped or lost is not one.
  // Latency: the timed lines logged (the calls were timed one by one: a by-product).
  const uint64_t counted =
      o.mode == "throughput" && checked ? timedLines - std::min(lost, timedLines) : timedLines;
  const double linesPerSecond = static_cast<double>(counted) / seconds;

  if (checked) {
    std::printf(
        "log: %llu lines logged, %llu found (%llu bytes), %llu lost, %llu out of order or "
        "twice, %llu other lines, %llu dropped by the logger\n",
        static_cast<unsigned long long>(total), static_cast<unsigned long long>(check.found()),
        static_cast<unsigned long long>(check.bytes()), static_cast<unsigned long long>(lost),
        static_cast<unsigned long long>(check.disorder()),
        static_cast<unsigned long long>(check.other()), static_cast<unsigned long long>(dropped));
    if (check.other() != 0)
      std::printf("log: the first other line: %s\n", check.firstOther().c_str());
  }
  std::printf(
      "log: %llu timed lines logged in %.3f s, in the file (or read) after %.3f s: %.0f "
      "lines/s%s; %llu minor page faults, %llu allocations of 1 MiB or more by the logging "
      "threads\n",
      static_cast<unsigned long long>(timedLines), logSeconds, seconds, linesPerSecond,
      counted == timedLines ? "" : " (those in the file)",
      static_cast<unsigned long long>(report.faults),
      static_cast<unsigned long long>(report.largeAllocations));
  std::printf(
      "result mode=%s sink=%s threads=%d logged=%llu dropped=%llu faults=%llu "
      "big_allocations=%llu log_seconds=%.6f seconds=%.6f lines_per_s=%.0f",
      o.mode.c_str(), o.sink.c_str(), o.threads, static_cast<unsigned long long>(total),
      static_cast<unsigned long long>(dropped), static_cast<unsigned long long>(report.faults),
      static_cast<unsigned long long>(report.largeAllocations), logSeconds, seconds,
      linesPerSecond);
  if (checked) {  // /dev/null keeps nothing to check
    std::printf(" found=%llu lost=%llu disorder=%llu other=%llu bytes=%llu",
                static_cast<unsigned long long>(check.found()),
                static_cast<unsigned long long>(lost),
                static_cast<unsigned long long>(check.disorder()),
                static_cast<unsigned long long>(check.other()),
                static_cast<unsigned long long>(check.bytes()));
  }
  if (!calls.empty()) {
    // With the empty pair subtracted; over(X): the calls that took longer than X ns.
    auto net = [emptyPair](uint32_t ns) { return std::max<int64_t>(0, int64_t{ns} - emptyPair); };
    auto over = [&calls, emptyPair](int64_t ns) {
      return static_cast<long long>(calls.end() -
                                    std::upper_bound(calls.begin(), calls.end(), ns + emptyPair));
    };
    std::printf(
        " empty_pair_ns=%lld median_ns=%lld p99_ns=%lld p999_ns=%lld max_ns=%lld "
        "over_1us=%lld over_100us=%lld over_1ms=%lld",
        static_cast<long long>(emptyPair), static_cast<long long>(net(percentile(calls, 0.5))),
        static_cast<long long>(net(percentile(calls, 0.99))),
        static_cast<long long>(net(percentile(calls, 0.999))),
        static_cast<long long>(net(calls.back())), over(1000), over(100000), over(1000000));
  }
  std::printf("\n");
  if (check.disorder() != 0) kProgram.fail("lines found twice or out of order");
  return 0;
}
