// The command line is the first thing a user touches; its errors must be clear and never start a
// server on a port nobody asked for.

#include <string>
#include <vector>

#include "Catch.h"
#include "Options.h"

namespace {

Options parse(std::vector<const char*> args) {
  args.insert(args.begin(), "server");
  return parseOptions(static_cast<int>(args.size()), args.data());
}

}  // namespace

TEST_CASE("defaults are loopback and the course port") {
  const Options options = parse({});
  CHECK(options.host == "127.0.0.1");
  CHECK(options.port == 9877);
  CHECK_FALSE(options.help);
}

TEST_CASE("--port and --host are read") {
  const Options options = parse({"--port", "0", "--host", "0.0.0.0"});
  CHECK(options.port == 0);
  CHECK(options.host == "0.0.0.0");
  CHECK(parse({"--port", "65535"}).port == 65535);
}

TEST_CASE("--help and -h ask for the usage") {
  CHECK(parse({"--help"}).help);
  CHECK(parse({"-h"}).help);
}

TEST_CASE("ports outside 0..65535 or not plain numbers are refused") {
  for (const char* bad : {"65536", "99999", "-1", "abc", "", "80x", " 80", "+80", "123456"}) {
    INFO("port '" << bad << "'");
    CHECK_THROWS_AS(parse({"--port", bad}), UsageError);
  }
}

TEST_CASE("a host that is not an IPv4 address is refused") {
  for (const char* bad : {"localhost", "256.0.0.1", "1.2.3", "::1", ""}) {
    INFO("host '" << bad << "'");
    CHECK_THROWS_AS(parse({"--host", bad}), UsageError);
  }
}

TEST_CASE("unknown flags and missing values are refused") {
  CHECK_THROWS_AS(parse({"--bogus"}), UsageError);
  CHECK_THROWS_AS(parse({"--port"}), UsageError);
  CHECK_THROWS_AS(parse({"--port", "80", "--host"}), UsageError);
  CHECK_THROWS_AS(parse({"8080"}), UsageError);
}

TEST_CASE("--work-ms takes a number of milliseconds") {
  CHECK(parse({}).workMs == 0);
  CHECK(parse({"--work-ms", "250"}).workMs == 250);
  CHECK(parse({"--work-ms", "60000"}).workMs == 60000);
  CHECK_THROWS_AS(parse({"--work-ms", "60001"}), UsageError);
  CHECK_THROWS_AS(parse({"--work-ms", "-1"}), UsageError);
  CHECK_THROWS_AS(parse({"--work-ms", "1.5"}), UsageError);
  CHECK_THROWS_AS(parse({"--work-ms"}), UsageError);
}

TEST_CASE("--workers and --queue size the thread pool") {
  const Options defaults = parse({});
  CHECK(defaults.workers == 4);
  CHECK(defaults.queue == 64);
  const Options options = parse({"--workers", "8", "--queue", "2"});
  CHECK(options.workers == 8);
  CHECK(options.queue == 2);
  CHECK(parse({"--workers", "0"}).workers == 0);  // no pool: the loop does the work
  CHECK_THROWS_AS(parse({"--workers", "-1"}), UsageError);
  CHECK_THROWS_AS(parse({"--workers", "257"}), UsageError);
  CHECK_THROWS_AS(parse({"--queue", "0"}), UsageError);
}

TEST_CASE("--threads sets the I/O threads besides the accepting one") {
  CHECK(parse({}).threads == 0);
  CHECK(parse({"--threads", "2"}).threads == 2);
  CHECK(parse({"--threads", "64"}).threads == 64);
  CHECK_THROWS_AS(parse({"--threads", "65"}), UsageError);
  CHECK_THROWS_AS(parse({"--threads", "-1"}), UsageError);
}

TEST_CASE("--stats-ms sets how often the stats line is printed; 0, the default, never") {
  CHECK(parse({}).statsMs == 0);
  CHECK(parse({"--stats-ms", "500"}).statsMs == 500);
  CHECK(parse({"--stats-ms", "3600000"}).statsMs == 3600000);
  CHECK_THROWS_AS(parse({"--stats-ms", "3600001"}), UsageError);
  CHECK_THROWS_AS(parse({"--stats-ms", "-1"}), UsageError);
  CHECK_THROWS_AS(parse({"--stats-ms"}), UsageError);
}

TEST_CASE("--idle-timeout sets after how many silent seconds a connection is closed; 0 never") {
  CHECK(parse({}).idleTimeout == 0);
  CHECK(parse({"--idle-timeout", "30"}).idleTimeout == 30);
  CHECK(parse({"--idle-timeout", "86400"}).idleTimeout == 86400);
  CHECK_THROWS_AS(parse({"--idle-timeout", "86401"}), UsageError);
  CHECK_THROWS_AS(parse({"--idle-timeout", "1.5"}), UsageError);
  CHECK_THROWS_AS(parse({"--idle-timeout"}), UsageError);
}

TEST_CASE("--log-level sets the least level logged, by name in either case; default info") {
  CHECK(parse({}).logLevel == LogLevel::kInfo);
  CHECK(parse({"--log-level", "trace"}).logLevel == LogLevel::kTrace);
  CHECK(parse({"--log-level", "WARN"}).logLevel == LogLevel::kWarn);
  CHECK(parse({"--log-level", "fatal"}).logLevel == LogLevel::kFatal);
  CHECK_THROWS_AS(parse({"--log-level", "loud"}), UsageError);
  CHECK_THROWS_AS(parse({"--log-level", ""}), UsageError);
  CHECK_THROWS_AS(parse({"--log-level"}), UsageError);
}
