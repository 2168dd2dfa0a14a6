#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <ctime>
#include <string>
#include <system_error>
#include <vector>

#include "Catch.h"
#include "LogFile.h"
#include "Regex.h"
#include "TempDir.h"

namespace {

// 100 bytes: "line NNNNN " and padding.
std::string line(int number) {
  std::string text = "line " + std::to_string(number) + " ";
  text.resize(99, 'x');
  return text + "\n";
}

std::string lines(int from, int to) {
  std::string text;
  for (int i = from; i < to; ++i) text += line(i);
  return text;
}

constexpr uint64_t kNoRoll = uint64_t{1} << 40;

}  // namespace

TEST_CASE("a log file's name: base, UTC start time, host, pid, the process's count") {
  TempDir dir;
  LogFile file(dir.path(), "server", kNoRoll);
  const std::vector<std::string> names = dir.files();
  REQUIRE(names.size() == 1);
  const std::regex form(R"(server\.(\d{8}-\d{6})\.(.+)\.(\d+)\.(\d{6})\.log)");
  std::smatch m;
  REQUIRE(std::regex_match(names[0], m, form));
  CHECK(std::stol(m[3]) == ::getpid());
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  CHECK(m[2] == host);
  char today[16];
  const time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  std::strftime(today, sizeof today, "%Y%m%d", &tm);
  CHECK(m[1].str().substr(0, 8) == today);  // (a test run at midnight UTC may see yesterday)
  CHECK(file.path() == dir.path() + "/" + names[0]);
}

TEST_CASE("a log file rolls before it would pass the size, between two lines") {
  TempDir dir;
  LogFile file(dir.path(), "server", 1000);  // 10 lines of 100 bytes
  file.append(lines(0, 25).data(), 2500);
  file.append(lines(25, 31).data(), 600);
  const std::vector<std::string> names = dir.files();
  REQUIRE(names.size() == 4);
  std::vector<size_t> sizes;
  for (const std::string& name : names)
    sizes.push_back(TempDir::read(dir.path() + "/" + name).size());
  CHECK(sizes == std::vector<size_t>{1000, 1000, 1000, 100});
  CHECK(dir.allText() == lines(0, 31));  // every line in exactly one file, in order
  CHECK(file.files() == 4);
}

TEST_CASE("a line longer than the roll size gets a file of its own, whole") {
  TempDir dir;
  LogFile file(dir.path(), "server", 150);
  const std::string text = line(0) + std::string(300, 'y') + "\n" + line(1);
  file.append(text.data(), text.size());
  const std::vector<std::string> names = dir.files();
  REQUIRE(names.size() == 3);
  CHECK(TempDir::read(dir.path() + "/" + names[1]) == std::string(300, 'y') + "\n");
  CHECK(dir.allText() == text);
}

TEST_CASE("a new UTC day starts a new file, named after that day") {
  TempDir dir;
  LogFile file(dir.path(), "server", kNoRoll);
  const time_t now = std::time(nullptr);
  file.append(line(0).data(), 100, now);
  file.append(line(1).data(), 100, now + 24 * 60 * 60);
  const std::vector<std::string> names = dir.files();
  REQUIRE(names.size() == 2);
  char tomorrow[16];
  const time_t later = now + 24 * 60 * 60;
  std::tm tm{};
  ::gmtime_r(&later, &tm);
  std::strftime(tomorrow, sizeof tomorrow, ".%Y%m%d-", &tm);
  CHECK(names[1].find(tomorrow) != std::string::npos);
  CHECK(TempDir::read(dir.path() + "/" + names[1]) == line(1));
}

TEST_CASE("a log file deleted under the writer: the next roll starts a new one") {
  TempDir dir;
  LogFile file(dir.path(), "server", 1000);
  file.append(lines(0, 5).data(), 500);
  REQUIRE(::unlink(file.path().c_str()) == 0);
  file.append(lines(5, 15).data(), 1000);  // 5 more fit the deleted file, then a roll
  const std::vector<std::string> names = dir.files();
  REQUIRE(names.size() == 1);
  CHECK(TempDir::read(dir.path() + "/" + names[0]) == lines(10, 15));
}

TEST_CASE("a log file that cannot be started throws, naming it") {
  try {
    LogFile file("/nonexistent-directory", "server", kNoRoll);
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(e.code().value() == ENOENT);
    CHECK(std::string(e.what()).find("/nonexistent-directory/server.") != std::string::npos);
  }
}

TEST_CASE(
    "a file-size limit: lines lost are counted, said in a new file, and none after (a child)") {
  TempDir dir;
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Past the limit a write fails with EFBIG (as with ENOSPC on a full disk), instead of the
    // signal's default action killing the process.
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{};
    ::getrlimit(RLIMIT_FSIZE, &limit);
    const rlimit small{10050, limit.rlim_max};  // 100 lines and half of one
    if (::setrlimit(RLIMIT_FSIZE, &small) != 0) ::_exit(10);
    LogFile file(dir.path(), "server", kNoRoll);
    for (int i = 0; i < 200; i += 10) file.append(lines(i, i + 10).data(), 1000);
    ::_exit(file.lostLines() == 10 ? 0 : 11);  // the one cut counts as lost
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  const std::vector<std::string> names = dir.files();
  REQUIRE(names.size() == 2);
  // The first file: 100 whole lines and the half line the limit cut.
  CHECK(TempDir::read(dir.path() + "/" + names[0]) == lines(0, 100) + line(100).substr(0, 50));
  // The next one: the note about the block that failed, then every line after it.
  const std::string second = TempDir::read(dir.path() + "/" + names[1]);
  const size_t noteEnd = second.find('\n') + 1;
  CHECK(std::regex_match(
      second.substr(0, noteEnd),
      std::regex(R"(\S+ \d+ ERROR 10 log lines \(950 bytes\) could not be written: File too )"
                 R"(large \(errno \d+\) - LogFile\.cc:\d+\n)")));
  CHECK(second.substr(noteEnd) == lines(110, 200));
}
