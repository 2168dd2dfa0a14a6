#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "Allocations.h"
#include "Buffer.h"
#include "Catch.h"
#include "SocketPair.h"

namespace {

std::string readable(const Buffer& buffer) {
  return std::string(buffer.peek(), buffer.readableBytes());
}

// n bytes of a repeating, position-dependent pattern: a shifted or lost byte shows up.
std::string pattern(size_t n) {
  std::string text(n, '\0');
  for (size_t i = 0; i < n; ++i) text[i] = static_cast<char>('a' + (i * 7 + i / 26) % 26);
  return text;
}

void writeAll(int fd, const std::string& data) {
  REQUIRE(::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
}

}  // namespace

TEST_CASE("a new buffer holds no storage at all") {
  Buffer buffer;
  CHECK(buffer.capacity() == 0);
  CHECK(buffer.readableBytes() == 0);
  CHECK(buffer.writableBytes() == 0);
  CHECK(buffer.prependableBytes() == 0);
  CHECK(buffer.findEOL() == nullptr);
  CHECK(buffer.findCRLF() == nullptr);
  CHECK(buffer.retrieveAllAsString().empty());
}

TEST_CASE("the first append allocates, leaving room to prepend") {
  Buffer buffer;
  buffer.append("hello");
  CHECK(buffer.readableBytes() == 5);
  CHECK(buffer.prependableBytes() == Buffer::kCheapPrepend);
  CHECK(buffer.capacity() == Buffer::kCheapPrepend + Buffer::kInitialSize);
  CHECK(buffer.writableBytes() == Buffer::kInitialSize - 5);
  CHECK(readable(buffer) == "hello");
}

TEST_CASE("retrieving consumes from the front; retrieving everything rewinds") {
  Buffer buffer;
  buffer.append("hello world");
  buffer.retrieve(6);
  CHECK(readable(buffer) == "world");
  CHECK(buffer.prependableBytes() == Buffer::kCheapPrepend + 6);
  CHECK(buffer.retrieveAsString(3) == "wor");
  CHECK(buffer.retrieveAllAsString() == "ld");
  CHECK(buffer.readableBytes() == 0);
  CHECK(buffer.prependableBytes() == Buffer::kCheapPrepend);  // back at the front
  CHECK(buffer.writableBytes() == Buffer::kInitialSize);
  buffer.append("x");
  buffer.retrieve(1);  // retrieving exactly what is readable rewinds too
  CHECK(buffer.prependableBytes() == Buffer::kCheapPrepend);
}

TEST_CASE("retrieveUntil consumes up to a found position") {
  Buffer buffer;
  buffer.append("GET / HTTP/1.1\r\nHost: x\r\n");
  const char* crlf = buffer.findCRLF();
  REQUIRE(crlf != nullptr);
  CHECK(std::string(buffer.peek(), crlf) == "GET / HTTP/1.1");
  buffer.retrieveUntil(crlf + 2);
  CHECK(readable(buffer) == "Host: x\r\n");
}

TEST_CASE("findCRLF and findEOL find the first terminator at or after a position") {
  Buffer buffer;
  buffer.append("one\r\ntwo\nthree");
  const char* crlf = buffer.findCRLF();
  REQUIRE(crlf != nullptr);
  CHECK(crlf - buffer.peek() == 3);
  CHECK(buffer.findCRLF(crlf + 2) == nullptr);  // "two\n" has no \r
  const char* eol = buffer.findEOL();
  REQUIRE(eol != nullptr);
  CHECK(eol - buffer.peek() == 4);  // the \n of "\r\n"
  const char* second = buffer.findEOL(eol + 1);
  REQUIRE(second != nullptr);
  CHECK(second - buffer.peek() == 8);
  CHECK(buffer.findEOL(second + 1) == nullptr);  // "three" is not terminated yet
}

TEST_CASE("a CR at the very end is not half a CRLF") {
  Buffer buffer;
  buffer.append("partial\r");
  CHECK(buffer.findCRLF() == nullptr);
  buffer.append("\n");
  REQUIRE(buffer.findCRLF() != nullptr);
  CHECK(buffer.findCRLF() - buffer.peek() == 7);
}

TEST_CASE("free space at the front is reused by compacting instead of growing") {
  Buffer buffer;
  buffer.append(pattern(1000));
  buffer.retrieve(900);  // 100 readable, 908 free at the front, 24 at the back
  const size_t capacity = buffer.capacity();
  const std::string expected = pattern(1000).substr(900) + pattern(900);
  buffer.append(pattern(900));  // does not fit at the back, fits after moving 100 bytes forward
  CHECK(buffer.capacity() == capacity);
  CHECK(buffer.prependableBytes() == Buffer::kCheapPrepend);
  CHECK(readable(buffer) == expected);
}

TEST_CASE("when even compacting is not enough, the storage grows and keeps the contents") {
  Buffer buffer;
  buffer.append(pattern(1000));
  buffer.retrieve(10);
  const std::string expected = pattern(1000).substr(10) + pattern(5000);
  buffer.append(pattern(5000));
  CHECK(buffer.capacity() > Buffer::kCheapPrepend + Buffer::kInitialSize);
  CHECK(readable(buffer) == expected);
}

TEST_CASE("ensureWritableBytes then hasWritten: writing in place") {
  Buffer buffer;
  buffer.ensureWritableBytes(3000);  // a first request larger than kInitialSize gets all of it
  REQUIRE(buffer.writableBytes() >= 3000);
  std::memcpy(buffer.beginWrite(), "abc", 3);
  buffer.hasWritten(3);
  CHECK(readable(buffer) == "abc");
}

TEST_CASE("prepend puts a header in front without moving the contents") {
  Buffer buffer;
  buffer.append("payload");
  const char* before = buffer.peek();
  const char header[4] = {0, 0, 0, 7};
  buffer.prepend(header, sizeof header);
  CHECK(buffer.peek() == before - 4);
  CHECK(buffer.prependableBytes() == Buffer::kCheapPrepend - 4);
  CHECK(readable(buffer) == std::string(header, 4) + "payload");
}

TEST_CASE("very large appends arrive intact") {
  Buffer buffer;
  const std::string big = pattern(10 * 1024 * 1024);
  for (size_t offset = 0; offset < big.size(); offset += 100000) {
    buffer.append(big.data() + offset, std::min<size_t>(100000, big.size() - offset));
  }
  REQUIRE(buffer.readableBytes() == big.size());
  CHECK(readable(buffer) == big);
}

TEST_CASE("shrink gives the storage back when nothing is readable") {
  Buffer buffer;
  buffer.append("keep me");
  buffer.shrink();
  CHECK(buffer.capacity() == Buffer::kCheapPrepend + Buffer::kInitialSize);  // nothing to spare
  CHECK(readable(buffer) == "keep me");
  buffer.retrieveAll();
  buffer.shrink();
  CHECK(buffer.capacity() == 0);
  CHECK(buffer.prependableBytes() == 0);
  buffer.append("again");  // and it works as new
  CHECK(readable(buffer) == "again");
}

TEST_CASE("shrink moves a few bytes left in large storage to storage of their size") {
  Buffer buffer;
  buffer.append(pattern(100000));
  buffer.retrieve(100000 - 10);
  buffer.shrink();
  CHECK(buffer.capacity() == Buffer::kCheapPrepend + Buffer::kInitialSize);
  CHECK(readable(buffer) == pattern(100000).substr(100000 - 10));
}

TEST_CASE("readFd into a buffer with no storage reads 64 KiB in one call, into the read block") {
  SocketPair pair;
  const std::string data = pattern(65536);
  writeAll(pair.fds[1], data);
  Buffer buffer;
  CHECK(buffer.readFd(pair.fds[0]) == 65536);
  CHECK(readable(buffer) == data);
  CHECK(buffer.capacity() == Buffer::kCheapPrepend + Buffer::kReadBlockSize);  // the block itself
  CHECK(buffer.prependableBytes() == Buffer::kCheapPrepend);
}

TEST_CASE("a message read and consumed whole allocates nothing: the read block goes round") {
  SocketPair pair;
  Buffer first;
  Buffer second;
  writeAll(pair.fds[1], "warm-up");  // the thread's read block may not exist yet
  REQUIRE(first.readFd(pair.fds[0]) == 7);
  first.retrieveAll();
  first.shrink();
  const std::string message = pattern(16384);
  bool allWell = true;  // no Catch2 assertion inside the counted loop: they may allocate
  const long before = allocationCount();
  for (int i = 0; i < 100; ++i) {
    Buffer& buffer = i % 2 == 0 ? first : second;  // like two connections taking turns
    allWell &= ::write(pair.fds[1], message.data(), message.size()) == 16384;
    allWell &= buffer.readFd(pair.fds[0]) == 16384;
    allWell &= std::memcmp(buffer.peek(), message.data(), message.size()) == 0;
    buffer.retrieveAll();
    buffer.shrink();
    allWell &= buffer.capacity() == 0;  // idle again: no storage
  }
  const long allocated = allocationCount() - before;
  CHECK(allWell);
  CHECK(allocated == 0);
}

TEST_CASE(
    "half a message stays in the read block; the next read on another buffer gets a new one") {
  SocketPair pair;
  Buffer holding;
  writeAll(pair.fds[1], pattern(40000));
  REQUIRE(holding.readFd(pair.fds[0]) == 40000);
  holding.shrink();  // 40000 bytes in 65544: kept, not copied
  CHECK(holding.capacity() == Buffer::kCheapPrepend + Buffer::kReadBlockSize);
  Buffer other;
  writeAll(pair.fds[1], "x");
  REQUIRE(other.readFd(pair.fds[0]) == 1);
  CHECK(other.peek() != holding.peek());  // two blocks now
  CHECK(readable(holding) == pattern(40000));
  CHECK(readable(other) == "x");
}

TEST_CASE("readFd fills the writable space first, then overflows into the read block") {
  SocketPair pair;
  Buffer buffer;
  buffer.append("head:");
  const size_t room = buffer.writableBytes();  // about 1 KiB
  const std::string data = pattern(room + 3000);
  writeAll(pair.fds[1], data);
  CHECK(buffer.readFd(pair.fds[0]) == static_cast<ssize_t>(data.size()));
  CHECK(readable(buffer) == "head:" + data);
}

TEST_CASE("readFd with ample room reads straight into the buffer") {
  SocketPair pair;
  Buffer buffer;
  buffer.ensureWritableBytes(200000);  // more than the read block: one iovec only
  const size_t capacity = buffer.capacity();
  writeAll(pair.fds[1], pattern(100000));
  CHECK(buffer.readFd(pair.fds[0]) == 100000);
  CHECK(readable(buffer) == pattern(100000));
  CHECK(buffer.capacity() == capacity);
}

TEST_CASE("readFd reports the end of the stream and errors like read") {
  SocketPair pair;
  Buffer buffer;
  ::shutdown(pair.fds[1], SHUT_WR);
  CHECK(buffer.readFd(pair.fds[0]) == 0);
  CHECK(buffer.readableBytes() == 0);

  SocketPair empty;
  CHECK(buffer.readFd(empty.fds[0]) == -1);  // non-blocking and nothing to read
  CHECK(errno == EAGAIN);
}
