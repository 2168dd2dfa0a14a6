#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "Catch.h"
#include "LogStream.h"

namespace {

template <typename T>
std::string formatted(const T& value) {
  LogStream stream;
  stream << value;
  return std::string(stream.buffer().view());
}

}  // namespace

TEST_CASE("LogStream formats integers of every width, limits included") {
  CHECK(formatted(0) == "0");
  CHECK(formatted(-1) == "-1");
  CHECK(formatted(std::numeric_limits<int>::min()) == "-2147483648");
  CHECK(formatted(std::numeric_limits<unsigned>::max()) == "4294967295");
  CHECK(formatted(std::numeric_limits<int64_t>::min()) == "-9223372036854775808");
  CHECK(formatted(std::numeric_limits<uint64_t>::max()) == "18446744073709551615");
  CHECK(formatted(static_cast<short>(-32768)) == "-32768");
  CHECK(formatted(static_cast<unsigned short>(65535)) == "65535");
  CHECK(formatted(1234567890123LL) == "1234567890123");
  // Numbers, not characters: an ostream would print the byte itself.
  CHECK(formatted(static_cast<unsigned char>(65)) == "65");
  CHECK(formatted(static_cast<signed char>(-5)) == "-5");
}

TEST_CASE("LogStream formats doubles in their shortest form that reads back the same") {
  CHECK(formatted(0.1) == "0.1");
  CHECK(formatted(-2.5) == "-2.5");
  CHECK(formatted(1e100) == "1e+100");
  CHECK(formatted(0.0) == "0");
  CHECK(formatted(std::numeric_limits<double>::infinity()) == "inf");
  CHECK(formatted(std::nan("")) == "nan");
  CHECK(std::stod(formatted(1.0 / 3)) == 1.0 / 3);
  CHECK(formatted(std::numeric_limits<double>::lowest()) == "-1.7976931348623157e+308");
  CHECK(formatted(0.5f) == "0.5");
  CHECK(formatted(0.25L) == "0.25");  // as a double
}

TEST_CASE("LogStream formats characters, strings, booleans and pointers") {
  CHECK(formatted('x') == "x");
  CHECK(formatted("text") == "text");
  CHECK(formatted(static_cast<const char*>(nullptr)) == "(null)");
  CHECK(formatted(std::string("a\0b", 3)) == std::string("a\0b", 3));  // the whole string
  CHECK(formatted(std::string_view("view")) == "view");
  CHECK(formatted(true) == "true");
  CHECK(formatted(false) == "false");
  CHECK(formatted(static_cast<const void*>(nullptr)) == "0x0");
  CHECK(formatted(reinterpret_cast<const void*>(uintptr_t{0x7f3a12bc})) == "0x7f3a12bc");
}

TEST_CASE("LogStream appends in order and starts over after resetBuffer") {
  LogStream stream;
  stream << "fd " << 7 << ' ' << 2.5 << " ok";
  CHECK(stream.buffer().view() == "fd 7 2.5 ok");
  stream.resetBuffer();
  CHECK(stream.buffer().length() == 0);
  stream << 42;
  CHECK(stream.buffer().view() == "42");
}

TEST_CASE("a line longer than the buffer is cut, never overflows") {
  LogStream stream;
  const std::string page(kLogLineSize - 3, 'x');
  stream << page << 123456 << "more" << 7;
  // What fits of the number, and nothing after it.
  CHECK(stream.buffer().length() == kLogLineSize);
  CHECK(stream.buffer().available() == 0);
  CHECK(stream.buffer().view().substr(kLogLineSize - 3) == "123");

  LogStream huge;
  huge << std::string(3 * kLogLineSize, 'y');
  CHECK(huge.buffer().length() == kLogLineSize);

  SECTION("cutTo drops the end, and only shortens") {
    stream.cutTo(10);
    CHECK(stream.buffer().view() == "xxxxxxxxxx");
    stream.cutTo(20);
    CHECK(stream.buffer().length() == 10);
  }
}
