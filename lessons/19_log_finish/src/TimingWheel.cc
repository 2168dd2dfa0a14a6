#include "TimingWheel.h"

#include <algorithm>

#include "EventLoop.h"
#include "TcpConnection.h"

TimingWheel::TimingWheel(EventLoop* loop, int timeoutTicks, double tickSeconds, Turn turn)
    : loop_(loop),
      tickMicroseconds_(std::max<int64_t>(addTime(Timestamp(), tickSeconds).microseconds(), 1)),
      timeoutMicroseconds_(tickMicroseconds_ * std::max(timeoutTicks, 1)),
      buckets_(static_cast<size_t>(std::max(timeoutTicks, 1)) + 1) {
  if (turn == Turn::kByTimer) loop_->runEvery(tickSeconds, [this] { tick(); });
}

void TimingWheel::add(const TcpConnectionPtr& conn, Timestamp now) {
  entries_[conn->id()] = Entry{conn, now};
  // Looked at a whole lap from now, when the timeout has passed: this bucket comes round again
  // after buckets_.size() ticks.
  bucketOf(now_).push_back(conn->id());
}

void TimingWheel::touch(const TcpConnectionPtr& conn, Timestamp now) {
  const auto found = entries_.find(conn->id());
  if (found != entries_.end()) found->second.lastActive = now;
}

void TimingWheel::remove(const TcpConnectionPtr& conn) {
  // Its id stays in a bucket until the wheel comes round to it, and is dropped then.
  entries_.erase(conn->id());
}

void TimingWheel::tick(Timestamp now) {
  ++now_;
  // Looked at in place: every connection that is not closed moves to another bucket (below), so
  // nothing is added to the vector being walked.
  std::vector<uint64_t>& bucket = bucketOf(now_);
  for (const uint64_t id : bucket) {
    const auto found = entries_.find(id);
    if (found == entries_.end()) continue;  // closed since
    Entry& entry = found->second;
    const TcpConnectionPtr conn = entry.conn.lock();
    if (!conn) {
      entries_.erase(found);
      continue;
    }
    if (conn->closeHeld()) entry.lastActive = now;  // the server is not done with it
    const Timestamp last = std::max(entry.lastActive, conn->lastWrite());
    const int64_t quiet = now.microseconds() - last.microseconds();
    if (quiet >= timeoutMicroseconds_) {
      entries_.erase(found);
      ++closed_;
      conn->forceClose();
      continue;
    }
    // Not idle yet: look again at the first tick at which it may be. That is 1 to timeout ticks
    // from now, so never this bucket, which comes round again after timeout + 1.
    const int64_t left = timeoutMicroseconds_ - quiet;
    bucketOf(now_ + static_cast<uint64_t>((left + tickMicroseconds_ - 1) / tickMicroseconds_))
        .push_back(id);
  }
  bucket.clear();  // keeps its capacity: a bucket allocates only to grow past its largest size
}
