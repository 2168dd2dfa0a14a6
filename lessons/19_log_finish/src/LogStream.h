#pragma once

// A log line is built in a buffer of fixed size, with operator<< as on an ostream, but without
// iostreams: no locale, no format state, no allocation, no virtual call per item. Numbers are
// formatted with std::to_chars, the fastest conversion the standard library has (shortest
// round-trip form for doubles).
//
// A line that does not fit is cut: whatever does not fit is left out, and the buffer never
// overflows.

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

#include "noncopyable.h"

// A line of a log: 4000 bytes, as muduo's (a page with room for the stack frame around it).
constexpr size_t kLogLineSize = 4000;

template <size_t Size>
class FixedBuffer : noncopyable {
 public:
  // Appends as much of [data, data + len) as fits.
  void append(const char* data, size_t len) {
    const size_t n = std::min(len, available());
    std::memcpy(current_, data, n);
    current_ += n;
  }

  const char* data() const { return data_; }
  size_t length() const { return static_cast<size_t>(current_ - data_); }
  size_t available() const { return static_cast<size_t>(data_ + Size - current_); }
  std::string_view view() const { return {data_, length()}; }
  void reset() { current_ = data_; }
  // Drops everything past the first `len` bytes.
  void cutTo(size_t len) {
    if (len < length()) current_ = data_ + len;
  }

 private:
  char data_[Size];
  char* current_ = data_;
};

class LogStream : noncopyable {
 public:
  using Buffer = FixedBuffer<kLogLineSize>;

  LogStream& operator<<(bool value) { return *this << (value ? "true" : "false"); }
  LogStream& operator<<(char c) {
    buffer_.append(&c, 1);
    return *this;
  }
  // Numbers, not characters (as an ostream would print a signed or unsigned char).
  LogStream& operator<<(signed char value) { return formatInteger(static_cast<int>(value)); }
  LogStream& operator<<(unsigned char value) { return formatInteger(static_cast<unsigned>(value)); }
  LogStream& operator<<(short value) { return formatInteger(value); }
  LogStream& operator<<(unsigned short value) { return formatInteger(value); }
  LogStream& operator<<(int value) { return formatInteger(value); }
  LogStream& operator<<(unsigned value) { return formatInteger(value); }
  LogStream& operator<<(long value) { return formatInteger(value); }
  LogStream& operator<<(unsigned long value) { return formatInteger(value); }
  LogStream& operator<<(long long value) { return formatInteger(value); }
  LogStream& operator<<(unsigned long long value) { return formatInteger(value); }
  LogStream& operator<<(float value) { return *this << static_cast<double>(value); }
  LogStream& operator<<(double value);
  LogStream& operator<<(long double value) { return *this << static_cast<double>(value); }
  LogStream& operator<<(const void* pointer);  // 0x and lower-case hex digits
  LogStream& operator<<(const char* text);     // a null pointer prints "(null)"
  LogStream& operator<<(std::string_view text) {
    buffer_.append(text.data(), text.size());
    return *this;
  }
  LogStream& operator<<(const std::string& text) { return *this << std::string_view(text); }

  void append(const char* data, size_t len) { buffer_.append(data, len); }
  void cutTo(size_t len) { buffer_.cutTo(len); }
  const Buffer& buffer() const { return buffer_; }
  void resetBuffer() { buffer_.reset(); }

 private:
  // Room for any integer (20 digits and a sign), a pointer (0x and 16 digits), and a double in its
  // shortest round-trip form (at most 24 characters, e.g. -2.2250738585072014e-308).
  static constexpr size_t kMaxNumberSize = 32;

  // Inline: the common case of a log line. Each number is formatted into a small array first and
  // then appended, so that one that does not fit is cut like any text, instead of leaving
  // half-written digits behind.
  template <typename Integer>
  LogStream& formatInteger(Integer value) {
    char digits[kMaxNumberSize];
    const auto result = std::to_chars(digits, digits + sizeof digits, value);
    buffer_.append(digits, static_cast<size_t>(result.ptr - digits));
    return *this;
  }

  Buffer buffer_;
};
