#include "AsyncLogging.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

AsyncLogging::AsyncLogging(AsyncLoggingOptions options)
    : flushInterval_(options.flushInterval),
      beforeWrite_(std::move(options.beforeWrite)),
      file_(options.dir, options.baseName, options.rollSize) {
  const size_t count = std::max<size_t>(options.buffers, 2);
  // Room for every buffer in each vector: they never grow, so writeOnCrash can walk buffers_
  // while another thread pushes into it.
  free_.reserve(count);
  buffers_.reserve(count);
  // All of them now, before any thread logs: make_unique zeroes each, which makes its pages
  // resident. A page touched for the first time under the mutex would hold every thread that logs
  // for the page fault (some 20 us on this course's VM; 8 buffers take 0.2 s to make here).
  current_ = std::make_unique<Buffer>();
  for (size_t i = 1; i < count; ++i) free_.push_back(std::make_unique<Buffer>());
}

AsyncLogging::~AsyncLogging() {
  if (&Logger::sink() == this) Logger::setSink(nullptr);
  stop();
}

void AsyncLogging::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (started_ || stopped_) return;
  started_ = true;
  running_ = true;
  backEnd_ = std::thread([this] { run(); });
}

void AsyncLogging::stop() {
  bool wasRunning;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wasRunning = running_;
    running_ = false;
  }
  if (wasRunning) {
    wakeBackEnd_.notify_one();
    backEnd_.join();  // its last round took everything appended before running_ went false
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopped_) return;
  // What was appended after that last round (or, never started, at all): written here, as every
  // line from now on, by append() itself.
  writeLeftovers();
  stopped_ = true;
  flushed_.notify_all();
}

void AsyncLogging::append(const char* line, size_t len) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopped_) {
    file_.append(line, len);
    return;
  }
  if (current_ && current_->available() < len) {
    buffers_.push_back(std::move(current_));
    wakeBackEnd_.notify_one();
  }
  if (!current_) {
    if (free_.empty()) {  // the back end is behind: drop, never wait, never allocate
      if (dropping_++ == 0) firstDrop_ = Timestamp::now();
      ++droppedTotal_;
      return;
    }
    current_ = std::move(free_.back());
    free_.pop_back();
    if (dropping_ > 0) noteDropped();
  }
  current_->append(line, len);
}

// With mutex_ held, into current_, taken since the drops (not through append(), which takes the
// lock).
void AsyncLogging::noteDropped() {
  class IntoCurrent : public LogSink {
   public:
    explicit IntoCurrent(Buffer* buffer) : buffer_(buffer) {}
    void append(const char* line, size_t len) override { buffer_->append(line, len); }
    void flush() override {}

   private:
    Buffer* buffer_;
  } intoCurrent(current_.get());
  const double seconds = timeDifference(Timestamp::now(), firstDrop_);
  Logger(LOG_SOURCE_FILE, __LINE__, LogLevel::kWarn, -1, &intoCurrent).stream()
      << dropping_ << " log lines dropped in the last " << seconds
      << " s: the log's back end could not keep up";
  dropping_ = 0;
}

void AsyncLogging::flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (stopped_) return;  // every line is written as it comes
  if (!started_) {       // nobody else will write them
    writeLeftovers();
    return;
  }
  // Served by the back end's next round, or, if stop() has begun, by its last round or by stop()
  // itself, which writes what is left: wait for whichever comes first.
  const uint64_t ticket = ++flushesAsked_;
  wakeBackEnd_.notify_one();
  flushed_.wait(lock, [this, ticket] { return flushesDone_ >= ticket || stopped_; });
}

uint64_t AsyncLogging::droppedLines() {
  std::lock_guard<std::mutex> lock(mutex_);
  return droppedTotal_;
}

// With mutex_ held, and no back end running.
void AsyncLogging::writeLeftovers() {
  for (BufferPtr& buffer : buffers_) {
    file_.append(buffer->data(), buffer->length());
    buffer->reset();
    free_.push_back(std::move(buffer));
  }
  buffers_.clear();
  if (!current_) {  // it was dropping: a buffer is free now
    current_ = std::move(free_.back());
    free_.pop_back();
  }
  if (dropping_ > 0) noteDropped();
  file_.append(current_->data(), current_->length());
  current_->reset();
}

void AsyncLogging::writeOnCrash() {
  const int fd = file_.crashFd();
  auto writeOut = [fd](const Buffer* buffer) {
    const char* data = buffer->data();
    size_t len = buffer->length();
    while (len > 0) {
      const ssize_t n = ::write(fd, data, len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      data += n;
      len -= static_cast<size_t>(n);
    }
  };
  // Indexes, not iterators: the size is read once, and the vector never reallocates (reserved).
  const size_t waiting = buffers_.size();
  for (size_t i = 0; i < waiting; ++i) {
    if (const Buffer* buffer = buffers_[i].get()) writeOut(buffer);
  }
  if (const Buffer* buffer = current_.get()) writeOut(buffer);
}

void AsyncLogging::run() {
  std::vector<BufferPtr> full;
  full.reserve(buffers_.capacity());
  for (bool last = false; !last;) {
    uint64_t flushesTaken;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wakeBackEnd_.wait_for(lock, flushInterval_, [this] {
        return !buffers_.empty() || !running_ || flushesAsked_ != flushesDone_;
      });
      last = !running_;  // after this round: everything appended so far is taken now
      if (current_ && current_->length() > 0) buffers_.push_back(std::move(current_));
      full.swap(buffers_);
      flushesTaken = flushesAsked_;
    }
    // Each buffer back to the pool as soon as it is written: a front end short of buffers gets
    // it without waiting for the rest of the round.
    for (BufferPtr& buffer : full) {
      if (beforeWrite_) beforeWrite_();
      file_.append(buffer->data(), buffer->length());
      buffer->reset();
      std::lock_guard<std::mutex> lock(mutex_);
      free_.push_back(std::move(buffer));
    }
    full.clear();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      flushesDone_ = flushesTaken;
    }
    flushed_.notify_all();
  }
}
