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
// what the socket would not take yet.
//
// Storage is held only while bytes wait, so an idle connection costs no buffer memory, and a busy
// one still allocates, zero-fills and copies nothing per message: readFd reads into a 64 KiB block
// that each thread keeps, and a buffer with no storage takes that block over as its own. When the
// message has been consumed, shrink() gives the block back for the next read, on any connection.
#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

class Buffer {
 public:
  static constexpr size_t kCheapPrepend = 8;    // room to prepend a length header without copying
  static constexpr size_t kInitialSize = 1024;  // the least storage allocated at a time
  static constexpr size_t kReadBlockSize = 65536;  // what one readFd takes at most into a block

  size_t readableBytes() const { return writerIndex_ - readerIndex_; }
  size_t writableBytes() const { return capacity_ - writerIndex_; }
  size_t prependableBytes() const { return readerIndex_; }
  size_t capacity() const { return capacity_; }  // 0: no storage at all

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
  void retrieveAll() { readerIndex_ = writerIndex_ = capacity_ == 0 ? 0 : kCheapPrepend; }
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

  // Gives back storage the buffer does not need: all of it if nothing is readable (an idle
  // connection then holds no buffer memory; a read block goes back to its thread for the next
  // read), and, if a few bytes wait in storage four times their size or more (half a message in a
  // read block), the excess: they move to storage of their own size.
  void shrink();

  // Reads from `fd` without a copy in the common case. With no storage: one read() into the
  // thread's read block, which this buffer then keeps. With storage: one readv() into the writable
  // space and the read block, appending what landed in the block; a small buffer thus still takes
  // a large read in one system call. Returns the call's result: bytes read, 0 at end of stream,
  // -1 with errno set.
  ssize_t readFd(int fd);

 private:
  char* begin() { return storage_.get(); }
  const char* begin() const { return storage_.get(); }
  void makeSpace(size_t length);
  // Replaces the storage by `storage` of `capacity` bytes holding the readable bytes at
  // kCheapPrepend; the old storage is freed, or kept by the thread if it is a read block it lacks.
  void replaceStorage(std::unique_ptr<char[]> storage, size_t capacity);

  // With no storage, capacity_ and both indices are 0 and every pointer above is nullptr + 0.
  std::unique_ptr<char[]> storage_;
  size_t capacity_ = 0;
  size_t readerIndex_ = 0;
  size_t writerIndex_ = 0;
};
