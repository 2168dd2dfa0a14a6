#pragma once

// The file a log is written to, by the back end of AsyncLogging (one thread at a time).
//
// No stdio buffer: AsyncLogging hands over whole buffers of lines (megabytes), and each goes to the
// kernel with write(2) at once. Once written, a line is in the kernel's page cache: it survives
// the process being killed or crashing (not the machine losing power: that would take fsync).
// The file is opened with O_APPEND, so that a run adds to what earlier runs wrote.

#include <cstddef>
#include <cstdint>
#include <string>

#include "FileDescriptor.h"
#include "noncopyable.h"

class LogFile : noncopyable {
 public:
  // Opens (creates) `path` for appending; throws std::system_error if it cannot.
  explicit LogFile(std::string path);

  // Writes all of [data, data + len), retrying short writes and EINTR. A write that fails
  // otherwise (ENOSPC, EIO, ...) loses the rest of that block: counted in lostBytes().
  void append(const char* data, size_t len);

  const std::string& path() const { return path_; }
  uint64_t writtenBytes() const { return writtenBytes_; }
  uint64_t lostBytes() const { return lostBytes_; }

 private:
  const std::string path_;
  FileDescriptor fd_;
  uint64_t writtenBytes_ = 0;
  uint64_t lostBytes_ = 0;
};
