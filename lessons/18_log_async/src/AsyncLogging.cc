#include "AsyncLogging.h"

#include <utility>

AsyncLogging::AsyncLogging(std::string path, std::chrono::milliseconds flushInterval)
    : flushInterval_(flushInterval),
      file_(std::move(path)),
      current_(std::make_unique<Buffer>()),
      next_(std::make_unique<Buffer>()) {
  buffers_.reserve(16);
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
  if (current_->available() < len) {
    buffers_.push_back(std::move(current_));
    // No spare left (the back end is behind): a new buffer. Memory grows for as long as the back
    // end cannot keep up; lesson 19 bounds it.
    current_ = next_ ? std::move(next_) : std::make_unique<Buffer>();
    wakeBackEnd_.notify_one();
  }
  current_->append(line, len);
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

// With mutex_ held, and no back end running.
void AsyncLogging::writeLeftovers() {
  for (const BufferPtr& buffer : buffers_) file_.append(buffer->data(), buffer->length());
  buffers_.clear();
  file_.append(current_->data(), current_->length());
  current_->reset();
}

void AsyncLogging::run() {
  // The back end's two spares: each round they replace current_ and next_ under the lock, and are
  // refilled from the buffers just written. More than two written are freed.
  BufferPtr spare1 = std::make_unique<Buffer>();
  BufferPtr spare2 = std::make_unique<Buffer>();
  std::vector<BufferPtr> full;
  full.reserve(16);
  for (bool last = false; !last;) {
    uint64_t flushesTaken;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wakeBackEnd_.wait_for(lock, flushInterval_, [this] {
        return !buffers_.empty() || !running_ || flushesAsked_ != flushesDone_;
      });
      last = !running_;  // after this round: everything appended so far is taken now
      buffers_.push_back(std::move(current_));
      current_ = std::move(spare1);
      if (!next_) next_ = std::move(spare2);
      full.swap(buffers_);
      flushesTaken = flushesAsked_;
    }
    for (const BufferPtr& buffer : full) file_.append(buffer->data(), buffer->length());
    for (BufferPtr& buffer : full) {
      buffer->reset();
      if (!spare1) {
        spare1 = std::move(buffer);
      } else if (!spare2) {
        spare2 = std::move(buffer);
      }
    }
    full.clear();  // frees the buffers not kept
    {
      std::lock_guard<std::mutex> lock(mutex_);
      flushesDone_ = flushesTaken;
    }
    flushed_.notify_all();
  }
}
