#pragma once

// The files a log is written to, by the back end of AsyncLogging (one thread at a time).
//
// Rolling: the log goes to a new file when the next block would take the current one past
// `rollSize` bytes (cut between two lines), and at the first write of each UTC day. Nothing is
// renamed: every file has a name of its own, made when it is started,
//
//   DIR/BASE.20261202-062231.HOST.PID.000001.log
//
// (the UTC time, the host, the process, and the process's count of files), so that two files never
// share a name, in one run or across runs, and the names sort in the order written. A file deleted
// while the server writes it goes on taking lines (the kernel keeps it until it is closed) and is
// left at the next roll, which starts a new one.
//
// No stdio buffer: AsyncLogging hands over whole buffers of lines (megabytes), and each goes to the
// kernel with write(2) at once. Once written, a line is in the kernel's page cache: it survives
// the process being killed or crashing (not the machine losing power: that would take fsync).
//
// A write that fails (ENOSPC: the disk is full; EFBIG: a file-size limit; EIO) loses what it could
// not write. The lines lost are counted, and once a write succeeds again a line in the log says how
// many were lost and why, before the lines that follow. After EFBIG the next write goes to a new
// file, which the limit lets grow again.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>

#include "FileDescriptor.h"
#include "noncopyable.h"

class LogFile : noncopyable {
 public:
  // Starts the first file; throws std::system_error if it cannot.
  LogFile(std::string dir, std::string baseName, uint64_t rollSize);

  // Writes whole lines, rolling first where it has to. `now` is the time to roll by (tests give
  // their own).
  void append(const char* data, size_t len) { append(data, len, std::time(nullptr)); }
  void append(const char* data, size_t len, time_t now);

  const std::string& path() const { return path_; }  // of the current file
  uint64_t writtenBytes() const { return writtenBytes_; }
  uint64_t lostLines() const { return totalLostLines_; }
  int files() const { return files_; }  // started so far

  // The current file's descriptor, for the crash handler (AsyncLogging::writeOnCrash). The file
  // before it stays open until the next roll: a handler that read the number just before a roll
  // still writes to a log file, never to a descriptor closed and reused meanwhile.
  int crashFd() const { return crashFd_.load(std::memory_order_acquire); }

 private:
  void roll(time_t now);                          // starts the next file, or keeps the current one
  void writeBlock(const char* data, size_t len);  // into the current file, counting what is lost
  size_t writeAll(const char* data, size_t len);  // bytes written before an error
  void writeLostNote(time_t now);                 // says what was lost, if it can now

  const std::string dir_;
  const std::string baseName_;
  const uint64_t rollSize_;
  const std::string hostAndPid_;  // ".HOST.PID"
  std::string path_;
  FileDescriptor file_;
  FileDescriptor previous_;  // the file before, open until the next roll (see crashFd)
  std::atomic<int> crashFd_{-1};
  uint64_t fileBytes_ = 0;  // in the current file
  time_t day_ = 0;          // UTC day of the current file (days since 1970)
  int files_ = 0;
  uint64_t writtenBytes_ = 0;
  // Lost since the last note: lines (a line cut by the failure counts), bytes, and why.
  uint64_t lostLines_ = 0;
  uint64_t lostBytes_ = 0;
  int lostErrno_ = 0;
  bool cutLine_ = false;       // the file ends in the middle of a line
  bool fileTooLarge_ = false;  // a write failed with EFBIG: the next append starts a new file
  uint64_t totalLostLines_ = 0;
};
