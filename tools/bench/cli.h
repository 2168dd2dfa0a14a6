#pragma once

// What the benchmark clients share about their command line, their measured time and the way a run
// ends. A bad command line prints the client's usage and exits 2, like every program of the course;
// a run that cannot give meaningful figures exits 1.

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <system_error>
#include <thread>
#include <variant>
#include <vector>

// A client, as its messages name it.
class Program {
 public:
  explicit constexpr Program(const char* name) : name_(name) {}

  const char* name() const { return name_; }

  // Ends the run: after a wrong byte, a dead connection or a failed system call no figure means
  // anything. _Exit, because other threads may still be running; stdout is flushed by hand so that
  // what was printed so far is not lost.
  [[noreturn]] void fail(const std::string& why) const {
    std::fprintf(stderr, "%s: FAILED: %s\n", name_, why.c_str());
    std::fflush(stdout);
    std::_Exit(1);
  }

  // fail() after a system call that set errno.
  [[noreturn]] void failErrno(const std::string& what) const {
    const int error = errno;  // before building the message, which may allocate and touch errno
    fail(what + ": " + std::generic_category().message(error));  // strerror may race
  }

 private:
  const char* name_;
};

// A `--name VALUE` option and the variable its value goes to. A number must lie in [min, max]; an
// int takes the number's integer part. `value` names the value in the usage text.
struct Flag {
  const char* name;
  const char* value;
  std::variant<std::string*, int*, double*> target;
  double min = 0;
  double max = 0;
  bool required = false;
};

// A client's command line, described once by its flags: the parser and the usage text both come
// from that list, so that they cannot disagree.
class CommandLine {
 public:
  CommandLine(const Program& program, std::vector<Flag> flags)
      : program_(program), flags_(std::move(flags)) {}

  // Sets the flags' variables from argv; --help (or -h) prints the usage and exits 0. Anything
  // else, or a required flag missing, is a usage error.
  void parse(int argc, char* argv[]) const {
    std::vector<bool> given(flags_.size(), false);
    for (int i = 1; i < argc; ++i) {
      const std::string name = argv[i];
      if (name == "--help" || name == "-h") {
        std::fputs(usage().c_str(), stdout);
        std::exit(0);
      }
      if (i + 1 >= argc) usageError("missing value for " + name);
      const char* value = argv[++i];
      const auto flag = std::find_if(flags_.begin(), flags_.end(),
                                     [&name](const Flag& f) { return name == f.name; });
      if (flag == flags_.end()) usageError("unknown option " + name);
      given[static_cast<size_t>(flag - flags_.begin())] = true;
      if (std::string* const* text = std::get_if<std::string*>(&flag->target)) {
        **text = value;
      } else if (int* const* integer = std::get_if<int*>(&flag->target)) {
        **integer = static_cast<int>(number(name, value, flag->min, flag->max));
      } else {
        *std::get<double*>(flag->target) = number(name, value, flag->min, flag->max);
      }
    }
    for (size_t i = 0; i < flags_.size(); ++i) {
      if (flags_[i].required && !given[i]) usageError(std::string(flags_[i].name) + " is required");
    }
  }

  [[noreturn]] void usageError(const std::string& why) const {
    std::fprintf(stderr, "%s: %s\n%s", program_.name(), why.c_str(), usage().c_str());
    std::exit(2);
  }

 private:
  static constexpr size_t kWidth = 100;  // the course's line length (.clang-format)

  // `usage: NAME --required VALUE [--optional VALUE] ...`, wrapped with the flags in a column that
  // starts under the first flag.
  std::string usage() const {
    const std::string head = std::string("usage: ") + program_.name() + " ";
    std::vector<std::string> lines(1);
    for (const Flag& flag : flags_) {
      std::string item = std::string(flag.name) + " " + flag.value;
      if (!flag.required) item = "[" + item + "]";
      std::string* line = &lines.back();
      if (!line->empty() && head.size() + line->size() + 1 + item.size() > kWidth) {
        line = &lines.emplace_back();
      }
      *line += (line->empty() ? "" : " ") + item;
    }
    std::string text;
    for (const std::string& line : lines) {
      text += (text.empty() ? head : std::string(head.size(), ' ')) + line + "\n";
    }
    return text;
  }

  // The number in `text`, which must lie in [min, max]; otherwise a usage error naming `flag`.
  double number(const std::string& flag, const char* text, double min, double max) const {
    char* end = nullptr;
    errno = 0;
    const double value = std::strtod(text, &end);
    // Written so that NaN, which compares false with everything, is out of range too.
    if (errno != 0 || end == text || *end != '\0' || !(value >= min && value <= max)) {
      usageError("bad value for " + flag + ": " + text);
    }
    return value;
  }

  const Program& program_;
  const std::vector<Flag> flags_;
};

// Now, in seconds of CLOCK_MONOTONIC: the clock Python's time.monotonic() reads on Linux, so that a
// runner can compare the times a client prints with its own.
inline double now() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// The measured time of a client whose threads make load until *stopping is set: `warmup` seconds
// of load first, then a snapshot of the counters (take(), which notes its own time), another one
// `seconds` later, and then *stopping is set. Returns the two snapshots; the threads are still to
// be joined.
template <typename Take>
auto measure(double warmup, double seconds, std::atomic<bool>* stopping, Take take) {
  std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
  auto start = take();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  auto end = take();
  *stopping = true;
  return std::make_pair(start, end);
}
