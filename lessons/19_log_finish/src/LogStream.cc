#include "LogStream.h"

#include <charconv>
#include <cstdint>

LogStream& LogStream::operator<<(double value) {
  char digits[kMaxNumberSize];
  const auto result = std::to_chars(digits, digits + sizeof digits, value);
  buffer_.append(digits, static_cast<size_t>(result.ptr - digits));
  return *this;
}

LogStream& LogStream::operator<<(const void* pointer) {
  char digits[kMaxNumberSize] = {'0', 'x'};
  const auto result =
      std::to_chars(digits + 2, digits + sizeof digits, reinterpret_cast<uintptr_t>(pointer), 16);
  buffer_.append(digits, static_cast<size_t>(result.ptr - digits));
  return *this;
}

LogStream& LogStream::operator<<(const char* text) {
  if (text == nullptr) return *this << std::string_view("(null)");
  return *this << std::string_view(text);
}
