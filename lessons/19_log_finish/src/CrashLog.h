#pragma once

// The last lines before a crash. While a CrashLog lives, SIGSEGV, SIGBUS, SIGFPE, SIGILL and
// SIGABRT (LOG_FATAL's abort() included) run a handler that writes the lines still in the
// AsyncLogging's memory to its file, then a FATAL line naming the signal, and then lets the signal
// end the process as it would have (the default action: a core dump where enabled).
//
// A signal handler may call only async-signal-safe functions: no lock (the thread that crashed may
// hold the log's mutex), no allocation, no stdio, no gmtime_r. The handler reads the buffers
// without the lock and writes them with write(2); its line is formatted by hand (the date from the
// clock's seconds, without the C library's time functions). What that guarantees, and what not:
// - the lines waiting in memory (the current buffer and the full ones not yet taken by the back
//   end) reach the file, unless the crash is in the log itself (its memory corrupted);
// - a line being appended by another thread at that instant may be cut;
// - the buffers the back end has taken and is writing are written by it for as long as the
//   process lives: the handler does not wait for it, so the end of such a round may be lost;
// - a crash by stack overflow runs no handler (it would need a stack of its own, sigaltstack, in
//   every thread); SIGKILL and a power loss run none either.

#include <csignal>

#include "noncopyable.h"

class AsyncLogging;

class CrashLog : noncopyable {
 public:
  explicit CrashLog(AsyncLogging* log);  // installs the handlers
  ~CrashLog();                           // puts back the actions there were before
};
