#pragma once

// A LogSink that keeps the I/O threads off the disk: the threads that log only copy their line
// into a buffer in memory, under a mutex held for that copy; a thread of its own (the back end)
// writes the buffers to a LogFile.
//
// Double buffering, as muduo's AsyncLogging: the front end fills `current_`; when it is full it
// joins the full ones in `buffers_`, `next_` (a spare) takes its place, and the back end is woken.
// The back end swaps its own two spare buffers in for `current_` and `next_` under the lock, and
// writes what it took without the lock, so that the front end never waits for a write. It also
// wakes up every flush interval and takes the current buffer however full it is: a line reaches
// the file within about that interval, even when little is logged.
//
// Nothing logged is lost at an orderly end: stop() (and the destructor) returns once every line
// appended before it was called is in the file. flush() waits until every line appended before it
// is in the file (LOG_FATAL calls it before aborting).
//
// Logger::setSink(&asyncLogging) sends the log here. Destroy it only after every thread that logs
// has stopped (the destructor makes stderr the sink again, if this was it).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "LogFile.h"
#include "LogStream.h"
#include "Logging.h"
#include "noncopyable.h"

// 4 MB, as muduo's: a thousand lines of 4000 bytes, or some 40,000 typical ones.
constexpr size_t kLogBufferSize = 4000 * 1000;

class AsyncLogging : public LogSink, noncopyable {
 public:
  // Opens the file now (throws std::system_error if it cannot); writes nothing until start().
  explicit AsyncLogging(std::string path,
                        std::chrono::milliseconds flushInterval = std::chrono::milliseconds(3000));
  ~AsyncLogging() override;

  void start();  // starts the back end
  void stop();   // writes everything appended before it, then stops the back end

  void append(const char* line, size_t len) override;  // any thread
  void flush() override;                               // any thread but the back end

  const std::string& path() const { return file_.path(); }

 private:
  using Buffer = FixedBuffer<kLogBufferSize>;
  using BufferPtr = std::unique_ptr<Buffer>;

  void run();  // the back end
  void writeLeftovers();

  const std::chrono::milliseconds flushInterval_;
  LogFile file_;  // the back end's while it runs; after stop(), written under mutex_

  std::mutex mutex_;
  std::condition_variable wakeBackEnd_;  // full buffers, a flush asked for, or stop
  std::condition_variable flushed_;      // the back end has written what a flush asked for
  BufferPtr current_;                    // the buffer being filled
  BufferPtr next_;                       // a spare for when current_ is full (may be null)
  std::vector<BufferPtr> buffers_;       // full, waiting for the back end
  bool started_ = false;                 // start() was called (once is enough)
  bool running_ = false;                 // the back end runs and has not been asked to stop
  bool stopped_ = false;                 // the back end is gone: append() writes to the file itself
  uint64_t flushesAsked_ = 0;            // flush() calls so far
  uint64_t flushesDone_ = 0;             // how many of them the back end has served
  std::thread backEnd_;
};
