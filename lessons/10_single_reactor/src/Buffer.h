#pragma once

// A byte buffer for non-blocking I/O, after muduo's:
//
//   +-------------------+------------------+------------------+
//   | prependable bytes |  readable bytes  |  writable bytes  |
//   |                   |     (CONTENT)    |                  |
//   +-------------------+------------------+------------------+
//   0      <=      readerIndex   <=   writerIndex    <=     size
//
// TCP delivers a byte stream, not messages: one read may hold half a message or three. The input
// buffer keeps what arrived until the user has a whole message; the output buffer (lesson 10) keeps
// what the socket would not take yet. Storage is allocated only when there is data, and can be
// given back when the buffer empties, so an idle connection costs no buffer memory.

#include <sys/types.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

class Buffer {
 public:
  static constexpr size_t kCheapPrepend = 8;    // room to prepend a length header without copying
  static constexpr size_t kInitialSize = 1024;  // the least storage allocated at a time
  static constexpr size_t kExtraBufferSize = 65536;  // readFd's stack buffer

  size_t readableBytes() const { return writerIndex_ - readerIndex_; }
  size_t writableBytes() const { return buffer_.size() - writerIndex_; }
  size_t prependableBytes() const { return readerIndex_; }
  size_t capacity() const { return buffer_.size(); }  // 0: no storage at all

  // The first readable byte. Valid until the next call that changes the buffer.
  const char* peek() const { return begin() + readerIndex_; }
  char* beginWrite() { return begin() + writerIndex_; }
  const char* beginWrite() const { return begin() + writerIndex_; }

  // The first "\r\n" (findCRLF) or "\n" (findEOL) in the readable bytes, at or after `start`;
  // nullptr if there is none.
  const char* findCRLF() const { return findCRLF(peek()); }
  const char* findCRLF(const char* start) const;
  const char* findEOL() const { return findEOL(peek()); }
  const char* findEOL(const char* start) const;

  // Consuming readable bytes. Consuming everything resets the indices, so that the next data starts
  // at the front again.
  void retrieve(size_t length);
  void retrieveUntil(const char* end) { retrieve(static_cast<size_t>(end - peek())); }
  void retrieveAll() { readerIndex_ = writerIndex_ = buffer_.empty() ? 0 : kCheapPrepend; }
  std::string retrieveAsString(size_t length);
  std::string retrieveAllAsString() { return retrieveAsString(readableBytes()); }

  void append(const char* data, size_t length);
  void append(std::string_view text) { append(text.data(), text.size()); }
  // Makes room for `length` more bytes: compacts if the free space at both ends is enough, else
  // grows. Allocates the storage on first use.
  void ensureWritableBytes(size_t length);
  void hasWritten(size_t length) { writerIndex_ += length; }
  // Puts `length` bytes in front of the readable ones (e.g. a length header); needs
  // prependableBytes() >= length.
  void prepend(const void* data, size_t length);

  // Gives the storage back if nothing is readable: an idle connection then holds no buffer memory.
  void releaseIfEmpty();

  // Reads from `fd` with one readv into the writable space and a 64 KiB stack buffer, and appends
  // what landed in the stack buffer. A small per-connection buffer thus still takes a large read in
  // one system call. Returns readv's result: bytes read, 0 at end of stream, -1 with errno set.
  ssize_t readFd(int fd);

 private:
  char* begin() { return buffer_.data(); }
  const char* begin() const { return buffer_.data(); }
  void makeSpace(size_t length);

  // With no storage both indices are 0 and every pointer above is buffer_.data() + 0.
  std::vector<char> buffer_;
  size_t readerIndex_ = 0;
  size_t writerIndex_ = 0;
};
