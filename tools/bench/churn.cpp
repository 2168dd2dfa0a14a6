// Connection churn load generator: connections opened, echoed once and closed, as fast as it can.
//
// Each of K threads repeats one cycle: socket, a blocking connect to the server, send one message
// of B bytes, read the whole echo back (checking every byte), close. After a warm-up it counts the
// completed cycles for a fixed time and prints cycles/s. A cycle that fails (a refused or timed-out
// connect, a reset, an early close, a wrong byte) is counted, and the first failure of each kind is
// printed, but the run goes on: only when more than 1% of the measured cycles failed does it fail.
// Every socket operation is bounded by --timeout (SO_SNDTIMEO also bounds connect()), a thread
// gives up after 1000 failures in a row (the server is gone), and at most kMaxCyclesPerThread
// cycles run per thread.
//
// Closing: the client closes first, so a normal close (FIN) would leave each of its connections in
// TIME_WAIT for 60 s, holding a local port: at tens of thousands of cycles per second one source
// address runs out of its ~28,000 ports within a second or two, and later runs (and lessons) would
// inherit the last run's TIME_WAIT sockets, past tcp_max_tw_buckets too. So every socket is closed
// with SO_LINGER {on, 0 s}: close() sends a reset (RST) and leaves no state behind on either side,
// and every run starts from the same clean kernel. That was chosen over spreading the connections
// over many 127.x.y.z source addresses, which keeps the FIN close but leaves hundreds of thousands
// of TIME_WAIT sockets from one run to the next. The price: the server sees each connection end
// with a reset, not an EOF, so what is measured includes its reset path (read() or epoll reporting
// ECONNRESET, and whatever it does then, e.g. print an error line). Clients that go away abruptly
// are a realistic part of connection churn, so this is a fair load, but it is not a graceful close.
//
// Exit codes: 0 ok; 1 no cycle completed, or more than 1% of the measured cycles failed; 2 bad
// usage.
//
//   churn --port P [--host 127.0.0.1] [--threads 2] [--message-bytes 64] [--seconds 5]
//         [--warmup 1] [--timeout 2]
//
// The last line is machine-readable: `result threads=... cycles=... failures=... cycles_per_s=...`,
// then the measured failures by kind.

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "cli.h"
#include "sockets.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  ServerAddress server;
  int threads = 2;
  int messageBytes = 64;
  double seconds = 5;
  double warmup = 1;
  double timeout = 2;
};

const Program kProgram("churn");

// Far more than a thread can do in the longest run (a cycle takes tens of microseconds): only a
// bound, so that no loop here is unbounded in count.
constexpr uint64_t kMaxCyclesPerThread = 100'000'000;
// Failures in a row after which a thread stops: nothing answers any more.
constexpr int kGiveUpAfter = 1000;

Options parseOptions(int argc, char* argv[]) {
  Options o;
  // The client writes the whole message before it reads: the message and its echo must fit the
  // sockets' buffers (loopback's default receive buffer is 128 KiB).
  parseCommandLine(kProgram, argc, argv, &o.server,
                   {{"--threads", "K", &o.threads, 1, 256},
                    {"--message-bytes", "BYTES", &o.messageBytes, 1, 65536},
                    {"--seconds", "T", &o.seconds, 0.1, 3600},
                    {"--warmup", "W", &o.warmup, 0, 3600},
                    {"--timeout", "S", &o.timeout, 0.01, 60}});
  return o;
}

// The ways a cycle fails, counted apart.
enum Kind { kConnect, kSend, kReceive, kClosed, kWrongEcho, kKinds };
const char* const kKindNames[kKinds] = {"connect", "send", "receive", "closed", "wrong_echo"};

// Per-thread counters, read by the main thread. Own cache lines, so threads do not slow each other.
struct alignas(64) Counters {
  std::atomic<uint64_t> cycles{0};  // completed: connected, echoed and checked, closed
  std::array<std::atomic<uint64_t>, kKinds> failures{};
};

std::atomic<bool> stopping{false};
std::array<std::atomic<bool>, kKinds> reported{};  // the first failure of each kind is printed

void noteFailure(Counters* counters, Kind kind, const std::string& why) {
  counters->failures[kind].fetch_add(1, std::memory_order_relaxed);
  if (!reported[kind].exchange(true)) {
    std::fprintf(stderr, "churn: %s failed: %s (the first such failure; the others are counted)\n",
                 kKindNames[kind], why.c_str());
  }
}

std::string errnoText(int error) {
  if (error == EAGAIN || error == EWOULDBLOCK) return "timed out";
  return std::generic_category().message(error);  // strerror may race
}

void setOption(int fd, int level, int name, const void* value, socklen_t size, const char* what) {
  if (::setsockopt(fd, level, name, value, size) < 0) kProgram.failErrno(what);
}

// One cycle on a new socket `fd`: connect, send `message`, read its echo into *echo and check it.
// Returns whether it all went well; a failure has been counted.
bool exchange(const Options& o, int fd, const std::vector<char>& message, std::vector<char>* echo,
              Counters* counters) {
  const sockaddr_in& server = o.server.address;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) < 0) {
    noteFailure(counters, kConnect, errnoText(errno));
    return false;
  }
  for (size_t sent = 0; sent < message.size();) {
    // MSG_NOSIGNAL: a reset connection is a counted failure, not a SIGPIPE that ends the run.
    const ssize_t n = ::send(fd, message.data() + sent, message.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      noteFailure(counters, kSend, errnoText(errno));
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  for (size_t got = 0; got < message.size();) {
    // Never past the message: anything more would belong to no cycle.
    const ssize_t n = ::recv(fd, echo->data() + got, message.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      noteFailure(counters, kReceive, errnoText(errno));
      return false;
    }
    if (n == 0) {
      noteFailure(counters, kClosed,
                  "the server closed the connection after " + std::to_string(got) + " of " +
                      std::to_string(message.size()) + " bytes of the echo");
      return false;
    }
    got += static_cast<size_t>(n);
  }
  if (std::memcmp(echo->data(), message.data(), message.size()) != 0) {
    const auto at = std::mismatch(message.begin(), message.end(), echo->begin()).first;
    noteFailure(counters, kWrongEcho,
                "wrong byte at " + std::to_string(at - message.begin()) + " of " +
                    std::to_string(message.size()));
    return false;
  }
  return true;
}

void runThread(int id, const Options& o, Counters* counters) {
  std::vector<char> message(static_cast<size_t>(o.messageBytes));
  for (size_t i = 0; i < message.size(); ++i) {
    message[i] = static_cast<char>('a' + (i + static_cast<size_t>(id)) % 26);
  }
  std::vector<char> echo(message.size());
  const linger reset{1, 0};  // close() sends RST: no TIME_WAIT (see the top of this file)
  timeval timeout{};
  timeout.tv_sec = static_cast<time_t>(o.timeout);
  timeout.tv_usec =
      static_cast<suseconds_t>((o.timeout - static_cast<double>(timeout.tv_sec)) * 1e6);

  int failuresInARow = 0;
  for (uint64_t n = 0; !stopping.load(std::memory_order_relaxed); ++n) {
    if (n == kMaxCyclesPerThread) kProgram.fail("the cap of cycles per thread was reached");
    const int fd = tcpSocket(kProgram, 0, "thread " + std::to_string(id));
    setOption(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset, "SO_LINGER");
    setOption(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout, "SO_SNDTIMEO");
    setOption(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout, "SO_RCVTIMEO");
    const bool ok = exchange(o, fd, message, &echo, counters);
    ::close(fd);
    if (ok) {
      counters->cycles.fetch_add(1, std::memory_order_relaxed);
      failuresInARow = 0;
    } else if (++failuresInARow == kGiveUpAfter) {
      std::fprintf(stderr, "churn: thread %d: %d failures in a row, giving up\n", id, kGiveUpAfter);
      return;
    }
  }
}

struct Snapshot {
  uint64_t cycles = 0;
  std::array<uint64_t, kKinds> failures{};
  Clock::time_point when;

  uint64_t failed() const {
    uint64_t sum = 0;
    for (uint64_t f : failures) sum += f;
    return sum;
  }
};

Snapshot snapshot(const std::vector<std::unique_ptr<Counters>>& counters) {
  Snapshot s;
  s.when = Clock::now();
  for (const auto& c : counters) {
    s.cycles += c->cycles.load(std::memory_order_relaxed);
    for (int k = 0; k < kKinds; ++k)
      s.failures[k] += c->failures[k].load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace

int main(int argc, char* argv[]) {
  const Options o = parseOptions(argc, argv);
  std::printf(
      "churn: %d threads, each connecting to %s:%d, echoing %d bytes and closing with a reset, "
      "%.1f s warm-up, %.1f s measured\n",
      o.threads, o.server.host.c_str(), o.server.port, o.messageBytes, o.warmup, o.seconds);
  std::fflush(stdout);

  std::vector<std::unique_ptr<Counters>> counters;
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    counters.push_back(std::make_unique<Counters>());
    threads.emplace_back(runThread, t, std::cref(o), counters.back().get());
  }

  const auto [start, end] =
      measure(o.warmup, o.seconds, &stopping, [&counters] { return snapshot(counters); });
  for (std::thread& t : threads) t.join();

  const double elapsed = std::chrono::duration<double>(end.when - start.when).count();
  const uint64_t cycles = end.cycles - start.cycles;
  const uint64_t failures = end.failed() - start.failed();
  const double cyclesPerSecond = static_cast<double>(cycles) / elapsed;
  std::printf("churn: %.0f cycles/s (connect, echo, close), %llu of %llu measured cycles failed\n",
              cyclesPerSecond, static_cast<unsigned long long>(failures),
              static_cast<unsigned long long>(cycles + failures));
  std::string byKind;
  for (int k = 0; k < kKinds; ++k) {
    byKind += std::string(" ") + kKindNames[k] + "=" +
              std::to_string(end.failures[k] - start.failures[k]);
  }
  std::printf(
      "result threads=%d message_bytes=%d seconds=%.3f cycles=%llu failures=%llu "
      "cycles_per_s=%.1f%s\n",
      o.threads, o.messageBytes, elapsed, static_cast<unsigned long long>(cycles),
      static_cast<unsigned long long>(failures), cyclesPerSecond, byKind.c_str());
  std::fflush(stdout);
  if (cycles == 0) {
    std::fprintf(stderr, "churn: FAILED: no cycle completed in the measured time\n");
    return 1;
  }
  if (failures * 100 > cycles + failures) {
    std::fprintf(stderr, "churn: FAILED: %.2f%% of the measured cycles failed (more than 1%%)\n",
                 100.0 * static_cast<double>(failures) / static_cast<double>(cycles + failures));
    return 1;
  }
  return 0;
}
