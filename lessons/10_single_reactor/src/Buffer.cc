#include "Buffer.h"

#include <sys/uio.h>

#include <algorithm>
#include <cassert>
#include <cstring>

namespace {

const char kCRLF[] = "\r\n";

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

void Buffer::releaseIfEmpty() {
  if (readableBytes() == 0 && !buffer_.empty()) {
    std::vector<char>().swap(buffer_);  // clear() would keep the capacity
    readerIndex_ = writerIndex_ = 0;
  }
}

void Buffer::makeSpace(size_t length) {
  if (buffer_.empty()) {
    buffer_.resize(kCheapPrepend + std::max(length, kInitialSize));
    readerIndex_ = writerIndex_ = kCheapPrepend;
  } else if (writableBytes() + prependableBytes() < length + kCheapPrepend) {
    // Not enough free space even at both ends together: grow.
    buffer_.resize(writerIndex_ + length);
  } else {
    // Enough once the readable bytes move to the front: compact instead of allocating.
    const size_t readable = readableBytes();
    std::copy(begin() + readerIndex_, begin() + writerIndex_, begin() + kCheapPrepend);
    readerIndex_ = kCheapPrepend;
    writerIndex_ = readerIndex_ + readable;
  }
}

ssize_t Buffer::readFd(int fd) {
  char extra[kExtraBufferSize];
  const size_t writable = writableBytes();
  iovec vec[2];
  vec[0].iov_base = beginWrite();
  vec[0].iov_len = writable;
  vec[1].iov_base = extra;
  vec[1].iov_len = sizeof extra;
  // With 64 KiB or more of room already, the stack buffer is not needed.
  const int iovcnt = writable < sizeof extra ? 2 : 1;
  const ssize_t n = ::readv(fd, vec, iovcnt);
  if (n < 0) {
    return n;  // errno says why
  }
  if (static_cast<size_t>(n) <= writable) {
    writerIndex_ += static_cast<size_t>(n);
  } else {
    writerIndex_ = buffer_.size();
    append(extra, static_cast<size_t>(n) - writable);
  }
  return n;
}
