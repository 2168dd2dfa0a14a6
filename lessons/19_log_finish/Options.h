#pragma once

// The command line of this lesson's programs: where to listen (server) or connect (client).
// Parsing is separate from acting on the result so that the unit tests can check it.

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

#include "Logging.h"

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 9877;  // the port of the examples in Stevens' UNIX Network Programming
  int threads = 0;       // I/O threads besides the accepting one (muduo's setThreadNum)
  int workMs = 0;        // how long each message's work takes (a stand-in for a blocking call)
  int workers = 4;       // threads running that work; 0: none, the loop does it
  int queue = 64;        // at most this many tasks wait for a worker
  int statsMs = 0;       // print a stats line every this many milliseconds; 0: never
  int idleTimeout = 0;   // close a connection silent for this many seconds; 0: never
  LogLevel logLevel = LogLevel::kInfo;  // the least level logged
  std::string logDir;                   // log to files in this directory; empty: to stderr
  int logRollSize = 64 * 1024 * 1024;   // bytes per log file at most
  bool help = false;
};

// A command line we cannot run with. The message says what is wrong; the caller adds the usage
// line.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// 0..65535, decimal digits only: strtol would also accept " 80", "+80" and "80abc".
inline uint16_t parsePort(const std::string& text) {
  if (text.empty() || text.size() > 5 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    throw UsageError("bad port '" + text + "': expected a number from 0 to 65535");
  }
  const long value = std::stol(text);
  if (value > 65535) {
    throw UsageError("bad port '" + text + "': expected a number from 0 to 65535");
  }
  return static_cast<uint16_t>(value);
}

// A whole number from `min` to `max`, decimal digits only, for `flag`.
inline int parseNumber(const std::string& flag, const std::string& text, int min, int max) {
  const std::string expected =
      "expected a number from " + std::to_string(min) + " to " + std::to_string(max);
  if (text.empty() || text.size() > 9 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    throw UsageError("bad " + flag + " '" + text + "': " + expected);
  }
  const long value = std::stol(text);
  if (value < min || value > max) throw UsageError("bad " + flag + " '" + text + "': " + expected);
  return static_cast<int>(value);
}

inline std::string parseHost(const std::string& text) {
  in_addr unused{};
  if (inet_pton(AF_INET, text.c_str(), &unused) != 1) {
    throw UsageError("bad address '" + text + "': expected an IPv4 address such as 127.0.0.1");
  }
  return text;
}

// trace, debug, info, warn, error or fatal (upper case too).
inline LogLevel parseLogLevel(const std::string& text) {
  const std::optional<LogLevel> level = Logger::parseLevel(text);
  if (!level) {
    throw UsageError("bad --log-level '" + text +
                     "': expected trace, debug, info, warn, error or fatal");
  }
  return *level;
}

inline Options parseOptions(int argc, const char* const argv[]) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else if (arg == "--port") {
      options.port = parsePort(value());
    } else if (arg == "--host") {
      options.host = parseHost(value());
    } else if (arg == "--threads") {
      options.threads = parseNumber(arg, value(), 0, 64);
    } else if (arg == "--work-ms") {
      options.workMs = parseNumber(arg, value(), 0, 60000);
    } else if (arg == "--workers") {
      options.workers = parseNumber(arg, value(), 0, 256);
    } else if (arg == "--queue") {
      options.queue = parseNumber(arg, value(), 1, 1000000);
    } else if (arg == "--stats-ms") {
      options.statsMs = parseNumber(arg, value(), 0, 3600000);
    } else if (arg == "--idle-timeout") {
      options.idleTimeout = parseNumber(arg, value(), 0, 86400);
    } else if (arg == "--log-level") {
      options.logLevel = parseLogLevel(value());
    } else if (arg == "--log-dir") {
      options.logDir = value();
      if (options.logDir.empty()) throw UsageError("bad --log-dir '': expected a directory");
    } else if (arg == "--log-roll-size") {
      options.logRollSize = parseNumber(arg, value(), 4096, 999999999);
    } else {
      throw UsageError("unknown option '" + arg + "'");
    }
  }
  return options;
}

// What every program of the course does with its command line: --help prints the usage on stdout
// and exits 0; a bad command line prints what is wrong and the usage on stderr and exits 2.
inline Options parseCommandLine(int argc, const char* const argv[], const char* usage) {
  try {
    Options options = parseOptions(argc, argv);
    if (options.help) {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    return options;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "error: %s\n%s", e.what(), usage);
    std::exit(2);
  }
}
