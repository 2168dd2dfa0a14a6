#include "LogFile.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

namespace {

int openForAppend(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open log file " + path);
  return fd;
}

}  // namespace

LogFile::LogFile(std::string path) : path_(std::move(path)), fd_(openForAppend(path_)) {}

void LogFile::append(const char* data, size_t len) {
  while (len > 0) {
    const ssize_t n = ::write(fd_.get(), data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // 0 cannot happen for a regular file; it would loop forever
      lostBytes_ += len;
      return;
    }
    data += n;
    len -= static_cast<size_t>(n);
    writtenBytes_ += static_cast<uint64_t>(n);
  }
}
