#pragma once

// A LogSink that keeps the I/O threads off the disk: the threads that log only copy their line
// into a buffer in memory, under a mutex held for that copy; a thread of its own (the back end)
// writes the buffers to a LogFile.
//
// The front end fills `current_`; when it is full it joins the full ones in `buffers_`, the next
// free buffer takes its place, and the back end is woken. The back end takes the full buffers
// (and, every flush interval, the current one however full it is) under the lock, writes them
// without it, and gives them back to `free_`. All the buffers are made at the start; none is made
// afterwards.
//
// Overload: when the back end cannot keep up and no buffer is free, the front end neither waits
// nor allocates: it drops the line and counts it. The first line it can take again is preceded by
// a WARN line saying how many were dropped and over how long. An I/O thread never waits for the
// disk, and the memory is bounded (the buffers' count times kLogBufferSize).
//
// Nothing logged is lost at an orderly end: stop() (and the destructor) returns once every line
// appended before it was called is in the file. flush() waits until every line appended before it
// is in the file (LOG_FATAL calls it before aborting). For a crash, writeOnCrash() (CrashLog.h).
//
// Logger::setSink(&asyncLogging) sends the log here. Destroy it only after every thread that logs
// has stopped (the destructor makes stderr the sink again, if this was it).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "LogFile.h"
#include "LogStream.h"
#include "Logging.h"
#include "Timestamp.h"
#include "noncopyable.h"

// 4 MB, as muduo's: a thousand lines of 4000 bytes, or some 40,000 typical ones.
constexpr size_t kLogBufferSize = 4000 * 1000;

struct AsyncLoggingOptions {
  std::string dir;
  std::string baseName = "server";
  uint64_t rollSize = 64 * 1024 * 1024;  // bytes per file at most (a line is never cut)
  std::chrono::milliseconds flushInterval{3000};
  // Buffers of kLogBufferSize, resident from the start: at least 2 (one filled while another is
  // written). 8 hold some 300,000 lines of 100 bytes that the back end has yet to write.
  size_t buffers = 8;
  // Called by the back end before it writes each buffer. Tests make the disk slow with it.
  std::function<void()> beforeWrite;
};

class AsyncLogging : public LogSink, noncopyable {
 public:
  // Starts the first file now (throws std::system_error if it cannot); writes nothing until
  // start().
  explicit AsyncLogging(AsyncLoggingOptions options);
  ~AsyncLogging() override;

  void start();  // starts the back end
  void stop();   // writes everything appended before it, then stops the back end

  void append(const char* line, size_t len) override;  // any thread; never waits for the disk
  void flush() override;                               // any thread but the back end

  // From a signal handler, when the process is about to die: writes the lines still in memory,
  // without a lock, an allocation or anything but write(2). See CrashLog.h for what it guarantees.
  void writeOnCrash();

  const LogFile& file() const { return file_; }  // the back end's: read it once stopped
  uint64_t droppedLines();                       // so far, all episodes together

 private:
  using Buffer = FixedBuffer<kLogBufferSize>;
  using BufferPtr = std::unique_ptr<Buffer>;

  void run();  // the back end
  void writeLeftovers();
  void noteDropped();  // the WARN line about the lines dropped, into current_

  const std::chrono::milliseconds flushInterval_;
  const std::function<void()> beforeWrite_;
  LogFile file_;  // the back end's while it runs; after stop(), written under mutex_

  std::mutex mutex_;
  std::condition_variable wakeBackEnd_;  // full buffers, a flush asked for, or stop
  std::condition_variable flushed_;      // the back end has written what a flush asked for
  BufferPtr current_;                    // the buffer being filled; null while dropping
  std::vector<BufferPtr> buffers_;       // full, waiting for the back end
  std::vector<BufferPtr> free_;          // empty, for the front end
  bool started_ = false;                 // start() was called (once is enough)
  bool running_ = false;                 // the back end runs and has not been asked to stop
  bool stopped_ = false;                 // the back end is gone: append() writes to the file itself
  uint64_t flushesAsked_ = 0;            // flush() calls so far
  uint64_t flushesDone_ = 0;             // how many of them the back end has served
  uint64_t dropping_ = 0;                // lines dropped since the last note
  Timestamp firstDrop_;                  // when the first of them was
  uint64_t droppedTotal_ = 0;
  std::thread backEnd_;
};
