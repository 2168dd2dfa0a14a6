#pragma once

// The library's log: one line per LOG_* statement, in one format, to one sink.
//
//   LOG_INFO << "accepted " << peer.toIpPort();
//
// writes (times are UTC, to the microsecond; the number is the kernel's id of the thread)
//
//   2026-12-02T06:22:31.123456Z 4242 INFO  accepted 127.0.0.1:40000 - server.cpp:310
//
// that is: time, thread id, level (padded to 5 characters), message, " - ", source file:line.
// LOG_SYSWARN(e), LOG_SYSERR(e) and LOG_SYSFATAL(e) end the message with the text of errno value e
// and its number:
// "... : Connection reset by peer (errno 104)". A line is at most kLogLineSize bytes; a longer
// one is cut (it still ends with its source and a newline).
//
// Below the current level a LOG_* statement costs one load and one comparison: the macro is an
// if-statement, and the arguments of operator<< are not evaluated at all.
//
// Lines go to a LogSink, by default one that writes each line to stderr with one write(2), so that
// lines from several threads never mix. LOG_FATAL writes its line, flushes the sink and aborts.

#include <atomic>
#include <optional>
#include <string_view>

#include "LogStream.h"
#include "noncopyable.h"

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kFatal };

// Where finished lines go. append() is called by every thread that logs, with one whole line
// (ending with '\n'), and must be safe for that.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void append(const char* line, size_t len) = 0;
  virtual void flush() = 0;
};

class Logger : noncopyable {
 public:
  Logger(const char* file, int line, LogLevel level);
  // Appends the text of errno value `savedErrno` (given, not read here: what ran between the
  // failure and the log statement may have changed errno) to the message.
  Logger(const char* file, int line, LogLevel level, int savedErrno);
  // A line for `target` instead of the sink (savedErrno -1: none): what the log's own machinery
  // says about itself (lines dropped, a full disk) goes straight where the log is written.
  Logger(const char* file, int line, LogLevel level, int savedErrno, LogSink* target);
  // Finishes the line and hands it to the sink; after a kFatal line, flushes and aborts.
  ~Logger();

  LogStream& stream() { return stream_; }

  static LogLevel logLevel() { return threshold_.load(std::memory_order_relaxed); }
  static void setLogLevel(LogLevel level) { threshold_.store(level, std::memory_order_relaxed); }
  // nullptr: stderr again. The sink must outlive every line logged to it.
  static void setSink(LogSink* sink) { sink_.store(sink, std::memory_order_release); }
  static LogSink& sink();

  // "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"; parseLevel also takes lower case.
  static const char* levelName(LogLevel level);
  static std::optional<LogLevel> parseLevel(std::string_view name);

 private:
  void formatHeader();

  LogStream stream_;
  const char* file_;
  int line_;
  LogLevel level_;
  int savedErrno_;
  LogSink* target_ = nullptr;  // nullptr: sink()

  static std::atomic<LogLevel> threshold_;  // the least level logged
  static std::atomic<LogSink*> sink_;
};

// The source file's name without its directories, at compile time where the compiler can (GCC 12,
// Clang 9), else at run time.
#ifdef __FILE_NAME__
#define LOG_SOURCE_FILE __FILE_NAME__
#else
#define LOG_SOURCE_FILE __FILE__
#endif

// glog's form: a ?: whose second arm is void. Below the level nothing after the ? is evaluated;
// unlike `if (on) Logger(...).stream()`, a LOG_* statement inside the caller's if-statement
// cannot capture the caller's else. `&` binds less tightly than `<<`: the whole line is streamed
// first, then turned into void. The Logger lives until the end of the statement, where its
// destructor hands the line to the sink.
#define LOG_AT(level)              \
  !(Logger::logLevel() <= (level)) \
      ? (void)0                    \
      : LogVoidify() & Logger(LOG_SOURCE_FILE, __LINE__, (level)).stream()
#define LOG_ERRNO_AT(level, savedErrno) \
  !(Logger::logLevel() <= (level))      \
      ? (void)0                         \
      : LogVoidify() & Logger(LOG_SOURCE_FILE, __LINE__, (level), (savedErrno)).stream()

struct LogVoidify {
  void operator&(LogStream&) {}
};

#define LOG_TRACE LOG_AT(LogLevel::kTrace)
#define LOG_DEBUG LOG_AT(LogLevel::kDebug)
#define LOG_INFO LOG_AT(LogLevel::kInfo)
#define LOG_WARN LOG_AT(LogLevel::kWarn)
#define LOG_ERROR LOG_AT(LogLevel::kError)
#define LOG_FATAL LOG_AT(LogLevel::kFatal)
// With the text of an errno value at the end of the message.
#define LOG_SYSWARN(savedErrno) LOG_ERRNO_AT(LogLevel::kWarn, savedErrno)
#define LOG_SYSERR(savedErrno) LOG_ERRNO_AT(LogLevel::kError, savedErrno)
#define LOG_SYSFATAL(savedErrno) LOG_ERRNO_AT(LogLevel::kFatal, savedErrno)
