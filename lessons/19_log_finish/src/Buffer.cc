#include "Buffer.h"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <utility>

namespace {

const char kCRLF[] = "\r\n";

// A read block, with room to prepend in front of what is read into it.
constexpr size_t kBlockCapacity = Buffer::kCheapPrepend + Buffer::kReadBlockSize;

// This thread's read block, while no buffer has taken it over. One is enough: a loop's connections
// read one at a time, and each gives the block back as soon as its message is consumed. (Another
// block is allocated if a buffer still keeps the first one, which then comes back to be freed.)
thread_local std::unique_ptr<char[]> threadReadBlock;

// new char[n], not std::make_unique<char[]>(n): the latter zero-fills n bytes that are about to be
// overwritten anyway (C++20 names the right thing make_unique_for_overwrite).
std::unique_ptr<char[]> allocateUninitialized(size_t size) {
  return std::unique_ptr<char[]>(new char[size]);
}

char* readBlock() {
  if (!threadReadBlock) threadReadBlock = allocateUninitialized(kBlockCapacity);
  return threadReadBlock.get();
}

// Frees `storage`, or keeps it as the thread's read block if it is one and the thread has none.
void recycle(std::unique_ptr<char[]> storage, size_t capacity) {
  if (storage && capacity == kBlockCapacity && !threadReadBlock)
    threadReadBlock = std::move(storage);
}

}  // namespace

const char* Buffer::findCRLF(const char* start) const {
  assert(peek() <= start && start <= beginWrite());
  const char* found = std::search(start, beginWrite(), kCRLF, kCRLF + 2);
  return found == beginWrite() ? nullptr : found;
}

const char* Buffer::findEOL(const char* start) const {
  assert(peek() <= start && start <= beginWrite());
  if (start == beginWrite()) return nullptr;  // memchr must not be given a null pointer
  const void* found = std::memchr(start, '\n', static_cast<size_t>(beginWrite() - start));
  return static_cast<const char*>(found);
}

void Buffer::retrieve(size_t length) {
  assert(length <= readableBytes());
  if (length < readableBytes()) {
    readerIndex_ += length;
  } else {
    retrieveAll();
  }
}

std::string Buffer::retrieveAsString(size_t length) {
  assert(length <= readableBytes());
  std::string result(peek(), length);
  retrieve(length);
  return result;
}

void Buffer::append(const char* data, size_t length) {
  ensureWritableBytes(length);
  std::copy(data, data + length, beginWrite());
  hasWritten(length);
}

void Buffer::ensureWritableBytes(size_t length) {
  if (writableBytes() < length) makeSpace(length);
  assert(writableBytes() >= length);
}

void Buffer::prepend(const void* data, size_t length) {
  assert(length <= prependableBytes());
  readerIndex_ -= length;
  const char* bytes = static_cast<const char*>(data);
  std::copy(bytes, bytes + length, begin() + readerIndex_);
}

void Buffer::shrink() {
  const size_t readable = readableBytes();
  if (readable == 0) {
    recycle(std::move(storage_), capacity_);
    capacity_ = readerIndex_ = writerIndex_ = 0;
  } else if (readable * 4 <= capacity_ && capacity_ > kCheapPrepend + kInitialSize) {
    const size_t capacity = kCheapPrepend + std::max(readable, kInitialSize);
    std::unique_ptr<char[]> smaller = allocateUninitialized(capacity);
    std::copy(peek(), peek() + readable, smaller.get() + kCheapPrepend);
    replaceStorage(std::move(smaller), capacity);
  }
}

void Buffer::makeSpace(size_t length) {
  const size_t readable = readableBytes();
  if (capacity_ == 0) {
    capacity_ = kCheapPrepend + std::max(length, kInitialSize);
    storage_ = allocateUninitialized(capacity_);
    readerIndex_ = writerIndex_ = kCheapPrepend;
  } else if (writableBytes() + prependableBytes() < length + kCheapPrepend) {
    // Not enough free space even at both ends together: grow, at least twofold, so that appending
    // n bytes piece by piece copies each byte a bounded number of times.
    const size_t capacity = std::max(kCheapPrepend + readable + length, 2 * capacity_);
    std::unique_ptr<char[]> bigger = allocateUninitialized(capacity);
    std::copy(peek(), peek() + readable, bigger.get() + kCheapPrepend);
    replaceStorage(std::move(bigger), capacity);
  } else {
    // Enough once the readable bytes move to the front: compact instead of allocating.
    std::copy(begin() + readerIndex_, begin() + writerIndex_, begin() + kCheapPrepend);
    readerIndex_ = kCheapPrepend;
    writerIndex_ = readerIndex_ + readable;
  }
}

void Buffer::replaceStorage(std::unique_ptr<char[]> storage, size_t capacity) {
  const size_t readable = readableBytes();
  recycle(std::exchange(storage_, std::move(storage)), capacity_);
  capacity_ = capacity;
  readerIndex_ = kCheapPrepend;
  writerIndex_ = kCheapPrepend + readable;
}

ssize_t Buffer::readFd(int fd) {
  char* block = readBlock();
  if (capacity_ == 0) {
    // Straight into the block, after room to prepend; the buffer keeps the block if bytes came.
    const ssize_t n = ::read(fd, block + kCheapPrepend, kReadBlockSize);
    if (n > 0) {
      storage_ = std::move(threadReadBlock);
      capacity_ = kBlockCapacity;
      readerIndex_ = kCheapPrepend;
      writerIndex_ = kCheapPrepend + static_cast<size_t>(n);
    }
    return n;  // 0 or -1: errno says why
  }
  const size_t writable = writableBytes();
  iovec vec[2];
  vec[0].iov_base = beginWrite();
  vec[0].iov_len = writable;
  vec[1].iov_base = block;
  vec[1].iov_len = kReadBlockSize;
  // With 64 KiB or more of room already, the block is not needed.
  const int iovcnt = writable < kReadBlockSize ? 2 : 1;
  const ssize_t n = ::readv(fd, vec, iovcnt);
  if (n < 0) {
    return n;  // errno says why
  }
  if (static_cast<size_t>(n) <= writable) {
    writerIndex_ += static_cast<size_t>(n);
  } else {
    writerIndex_ = capacity_;
    append(block, static_cast<size_t>(n) - writable);
  }
  return n;
}
