#include "LogFile.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <system_error>
#include <utility>

#include "Logging.h"

namespace {

constexpr time_t kSecondsPerDay = 24 * 60 * 60;

std::atomic<int> g_filesStarted{0};  // by this process, every LogFile's

std::string hostAndPid() {
  char host[256] = "unknownhost";
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "unknownhost");
  host[sizeof host - 1] = '\0';
  return std::string(".") + host + "." + std::to_string(::getpid());
}

// Keeps the one line a Logger hands it: the note about lost lines, written to the file directly.
class LineCapture : public LogSink {
 public:
  void append(const char* line, size_t len) override { line_.assign(line, len); }
  void flush() override {}
  const std::string& line() const { return line_; }

 private:
  std::string line_;
};

}  // namespace

LogFile::LogFile(std::string dir, std::string baseName, uint64_t rollSize)
    : dir_(std::move(dir)),
      baseName_(std::move(baseName)),
      rollSize_(rollSize),
      hostAndPid_(hostAndPid()) {
  roll(std::time(nullptr));
  if (!file_.valid()) {
    throw std::system_error(errno, std::generic_category(), "open log file " + path_);
  }
}

void LogFile::roll(time_t now) {
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char started[32];
  std::strftime(started, sizeof started, ".%Y%m%d-%H%M%S", &tm);
  std::string path;
  int fd = -1;
  // O_EXCL: a name is never reused. The count is the process's (every LogFile's files), so a name
  // taken anyway was another process's, with our pid, long ago: the next count is tried.
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    char count[16];
    std::snprintf(count, sizeof count, ".%06d", g_filesStarted.fetch_add(1) + 1);
    path = dir_ + "/" + baseName_ + started + hostAndPid_ + count + ".log";
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    if (!file_.valid()) path_ = std::move(path);  // for the constructor's error
    return;  // the current file goes on; the next append tries again
  }
  ++files_;
  previous_ = std::move(file_);
  file_.reset(fd);
  crashFd_.store(fd, std::memory_order_release);
  path_ = std::move(path);
  fileBytes_ = 0;
  day_ = now / kSecondsPerDay;
  cutLine_ = false;
  fileTooLarge_ = false;
}

void LogFile::append(const char* data, size_t len, time_t now) {
  // A new day, or a file that can grow no more (EFBIG: a file-size limit): a new file.
  if (now / kSecondsPerDay != day_ || fileTooLarge_) roll(now);
  while (len > 0) {
    if (lostLines_ > 0) writeLostNote(now);  // if it fails too, the counting goes on
    const uint64_t room = fileBytes_ < rollSize_ ? rollSize_ - fileBytes_ : 0;
    if (len <= room) {
      writeBlock(data, len);
      return;
    }
    // Up to the last line that fits, then a new file. A file that has nothing yet takes at least
    // one line, whatever its size.
    const void* lastNewline = ::memrchr(data, '\n', static_cast<size_t>(room));
    size_t part = lastNewline != nullptr
                      ? static_cast<size_t>(static_cast<const char*>(lastNewline) - data) + 1
                      : 0;
    if (part == 0 && fileBytes_ == 0) {
      const void* firstNewline = std::memchr(data, '\n', len);
      part = firstNewline != nullptr
                 ? static_cast<size_t>(static_cast<const char*>(firstNewline) - data) + 1
                 : len;
    }
    writeBlock(data, part);
    data += part;
    len -= part;
    if (len == 0) return;
    roll(now);
    if (fileBytes_ != 0) {  // no new file could be started: the current one grows
      writeBlock(data, len);
      return;
    }
  }
}

void LogFile::writeBlock(const char* data, size_t len) {
  const size_t written = writeAll(data, len);
  if (written > 0) cutLine_ = data[written - 1] != '\n';
  if (written == len) return;
  lostErrno_ = errno;
  if (lostErrno_ == EFBIG) fileTooLarge_ = true;
  const char* rest = data + written;
  const size_t lost = len - written;
  const uint64_t lines = static_cast<uint64_t>(std::count(rest, rest + lost, '\n'));
  lostLines_ += lines;
  totalLostLines_ += lines;
  lostBytes_ += lost;
}

size_t LogFile::writeAll(const char* data, size_t len) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = ::write(file_.get(), data + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;  // cannot happen for a regular file; it would loop forever
      break;
    }
    done += static_cast<size_t>(n);
    fileBytes_ += static_cast<uint64_t>(n);
    writtenBytes_ += static_cast<uint64_t>(n);
  }
  return done;
}

void LogFile::writeLostNote(time_t now) {
  LineCapture capture;
  Logger(LOG_SOURCE_FILE, __LINE__, LogLevel::kError, lostErrno_, &capture).stream()
      << lostLines_ << " log lines (" << lostBytes_ << " bytes) could not be written";
  std::string note = capture.line();
  if (fileBytes_ > 0 && fileBytes_ + note.size() + 1 > rollSize_) roll(now);  // the note fits too
  if (cutLine_) note.insert(0, "\n");  // a line the failure cut ends, so the note is a line
  const size_t written = writeAll(note.data(), note.size());
  if (written == note.size()) {
    lostLines_ = 0;
    lostBytes_ = 0;
    cutLine_ = false;
    return;
  }
  if (written > 0) cutLine_ = note[written - 1] != '\n';
  if (errno == EFBIG) fileTooLarge_ = true;
}
