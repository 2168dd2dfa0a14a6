#pragma once

// Command-line parsing that the benchmark clients share. Each client has its own usage text; a bad
// command line prints it and exits 2, like every program of the course.

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

[[noreturn]] inline void usageError(const char* program, const char* usage, const std::string& why) {
  std::fprintf(stderr, "%s: %s\n%s", program, why.c_str(), usage);
  std::exit(2);
}

// The number in `text`, which must lie in [min, max]; otherwise a usage error naming `flag`.
inline double parseNumber(const char* program, const char* usage, const std::string& flag,
                          const char* text, double min, double max) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
    usageError(program, usage, "bad value for " + flag + ": " + text);
  }
  return value;
}
