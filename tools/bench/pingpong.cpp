// Echo ping-pong load generator: N sessions, each bouncing one block of B bytes off an echo server.
//
// Each session sends a block, waits until the whole block has come back (checking every byte), and
// sends the next one. Sessions are shared out over a few threads, each with its own epoll loop and
// non-blocking TCP_NODELAY sockets. After a warm-up it counts for a fixed time and prints MiB/s (of
// echoed payload, counted once although every byte crosses loopback twice) and round trips/s.
//
// Exit codes: 0 ok; 1 wrong echo, a connection that failed or closed, or a session that made no
// progress for --stall-seconds (the server lost bytes); 2 bad usage.
//
//   pingpong --port P [--host 127.0.0.1] [--sessions 10] [--block 16384] [--seconds 5]
//            [--warmup 1] [--threads 2] [--stall-seconds 3]
//
// The last line is machine-readable: `result sessions=... block=... mib_per_s=... msgs_per_s=...`.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = -1;
  int sessions = 10;
  int block = 16384;
  double seconds = 5;
  double warmup = 1;
  int threads = 2;
  double stallSeconds = 3;
};

const char kUsage[] =
    "usage: pingpong --port P [--host ADDR] [--sessions N] [--block BYTES] [--seconds T]\n"
    "                [--warmup W] [--threads K] [--stall-seconds S]\n";

[[noreturn]] void usage(const std::string& why) { usageError("pingpong", kUsage, why); }

double parseNumber(const std::string& flag, const char* text, double min, double max) {
  return ::parseNumber("pingpong", kUsage, flag, text, min, max);
}

// Fails the whole run: one wrong byte or one dead connection makes every figure meaningless.
// _exit, because other threads are still running and nothing needs flushing but stderr.
[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "pingpong: FAILED: %s\n", why.c_str());
  std::fflush(stdout);
  std::_Exit(1);
}

Options parseOptions(int argc, char* argv[]) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage("missing value for " + flag);
    const char* value = argv[++i];
    if (flag == "--host") {
      o.host = value;
    } else if (flag == "--port") {
      o.port = static_cast<int>(parseNumber("--port", value, 1, 65535));
    } else if (flag == "--sessions") {
      o.sessions = static_cast<int>(parseNumber("--sessions", value, 1, 100000));
    } else if (flag == "--block") {
      o.block = static_cast<int>(parseNumber("--block", value, 1, 64 << 20));
    } else if (flag == "--seconds") {
      o.seconds = parseNumber("--seconds", value, 0.1, 3600);
    } else if (flag == "--warmup") {
      o.warmup = parseNumber("--warmup", value, 0, 3600);
    } else if (flag == "--threads") {
      o.threads = static_cast<int>(parseNumber("--threads", value, 1, 256));
    } else if (flag == "--stall-seconds") {
      o.stallSeconds = parseNumber("--stall-seconds", value, 0.1, 3600);
    } else {
      usage("unknown option " + flag);
    }
  }
  if (o.port < 0) usage("--port is required");
  o.threads = std::min(o.threads, o.sessions);
  return o;
}

// One connection bouncing blocks. Two reference blocks per session, used alternately, each with
// bytes that depend on the session: an echo that is stale (last round's), misrouted (another
// session's), short, reordered or corrupted fails the byte-by-byte check.
struct Session {
  int id = 0;
  int fd = -1;
  std::vector<char> expected[2];
  std::vector<char> received;
  int parity = 0;         // which reference block is in flight
  size_t sent = 0;        // bytes of the current block written so far
  size_t got = 0;         // bytes of the current block echoed back so far
  bool wantWrite = false; // EPOLLOUT is enabled (the socket's send buffer was full)
  bool done = false;      // the run is over and this session's last block came back
  Clock::time_point lastProgress;
};

// Per-thread counters, read by the main thread. Own cache lines, so threads do not slow each other.
struct alignas(64) Counters {
  std::atomic<uint64_t> bytes{0};     // echoed bytes received
  std::atomic<uint64_t> messages{0};  // whole blocks echoed back
};

std::atomic<bool> stopping{false};

// Session::lastProgress of a session already reported as stalled: far in the future.
const Clock::time_point kReported = Clock::time_point::max() - std::chrono::hours(1);

void fillBlock(std::vector<char>* block, int session, int parity, int size) {
  block->resize(static_cast<size_t>(size));
  uint32_t x = 2654435761u * static_cast<uint32_t>(session * 2 + parity + 1);
  for (char& c : *block) {
    x = x * 1664525u + 1013904223u;  // a cheap LCG: the bytes differ per session and parity
    c = static_cast<char>(x >> 24);
  }
}

int connectTo(const Options& o, int id) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket: " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(o.port));
  if (::inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr) != 1) usage("bad --host " + o.host);
  // Connect blocking: setup is not measured, and a refused connection is simplest to report here.
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0) {
    fail("session " + std::to_string(id) + ": connect to " + o.host + ":" +
         std::to_string(o.port) + ": " + std::strerror(errno));
  }
  const int on = 1;  // without it, Nagle would hold back the tail of each block for an ACK
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) < 0) fail("TCP_NODELAY");
  if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) fail("O_NONBLOCK");
  return fd;
}

void setEvents(int epollFd, Session* s, bool write) {
  epoll_event ev{};
  ev.events = EPOLLIN | (write ? EPOLLOUT : 0u);
  ev.data.ptr = s;
  if (::epoll_ctl(epollFd, EPOLL_CTL_MOD, s->fd, &ev) < 0) fail("epoll_ctl(MOD)");
  s->wantWrite = write;
}

// Writes what the socket takes of the current block; waits for EPOLLOUT if it takes less.
void writeSome(int epollFd, Session* s) {
  const std::vector<char>& block = s->expected[s->parity];
  while (s->sent < block.size()) {
    const ssize_t n = ::write(s->fd, block.data() + s->sent, block.size() - s->sent);
    if (n > 0) {
      s->sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!s->wantWrite) setEvents(epollFd, s, true);
      return;
    }
    fail("session " + std::to_string(s->id) + ": write: " + std::strerror(errno));
  }
  if (s->wantWrite) setEvents(epollFd, s, false);
}

// Reads what has come back, checks it, and starts the next round when the block is complete.
void readSome(int epollFd, Session* s, Counters* counters) {
  for (;;) {
    const std::vector<char>& block = s->expected[s->parity];
    // Never read past the current block: the server echoes only what we sent, so anything more
    // is an error, which the got > sent check below catches.
    const ssize_t n = ::read(s->fd, s->received.data() + s->got, block.size() - s->got);
    if (n == 0) fail("session " + std::to_string(s->id) + ": the server closed the connection");
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      fail("session " + std::to_string(s->id) + ": read: " + std::strerror(errno));
    }
    const size_t from = s->got;
    s->got += static_cast<size_t>(n);
    if (s->got > s->sent) {
      fail("session " + std::to_string(s->id) + ": got " + std::to_string(s->got) +
           " bytes back of a block of which only " + std::to_string(s->sent) + " were sent");
    }
    if (std::memcmp(s->received.data() + from, block.data() + from, static_cast<size_t>(n)) != 0) {
      size_t at = from;
      while (s->received[at] == block[at]) ++at;
      fail("session " + std::to_string(s->id) + ": wrong echo at byte " + std::to_string(at) +
           " of a " + std::to_string(block.size()) + "-byte block");
    }
    counters->bytes.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    s->lastProgress = Clock::now();
    if (s->got == block.size()) {
      counters->messages.fetch_add(1, std::memory_order_relaxed);
      s->parity ^= 1;
      s->sent = 0;
      s->got = 0;
      if (stopping.load(std::memory_order_relaxed)) {
        s->done = true;  // the run is over: send no more, so that the close is a clean FIN
        return;
      }
      writeSome(epollFd, s);
      // The echo of the new block cannot be complete yet: wait for epoll rather than spend a read
      // that would only say EAGAIN (the server's share of the two cores is what is measured).
      return;
    }
  }
}

void runThread(std::vector<Session*> sessions, Counters* counters, double stallSeconds,
               std::atomic<int>* stalled) {
  const int epollFd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epollFd < 0) fail("epoll_create1");
  for (Session* s : sessions) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = s;
    if (::epoll_ctl(epollFd, EPOLL_CTL_ADD, s->fd, &ev) < 0) fail("epoll_ctl(ADD)");
    s->lastProgress = Clock::now();
    writeSome(epollFd, s);
  }
  std::vector<epoll_event> events(std::max<size_t>(sessions.size(), 1));
  auto lastStallCheck = Clock::now();
  // Runs until the main thread says stop, and then until every session's last block has come back
  // (checked like every other), or has stalled: the sockets then close with nothing in flight.
  for (;;) {
    if (stopping.load(std::memory_order_relaxed)) {
      const bool finished = std::all_of(sessions.begin(), sessions.end(), [](const Session* s) {
        return s->done || s->lastProgress == kReported;
      });
      if (finished) break;
    }
    // The timeout bounds how late this thread notices the end of the run.
    const int n = ::epoll_wait(epollFd, events.data(), static_cast<int>(events.size()), 100);
    if (n < 0 && errno != EINTR) fail("epoll_wait: " + std::string(std::strerror(errno)));
    for (int i = 0; i < n; ++i) {
      Session* s = static_cast<Session*>(events[i].data.ptr);
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readSome(epollFd, s, counters);
      if (events[i].events & EPOLLOUT) writeSome(epollFd, s);
    }
    const auto now = Clock::now();
    if (now - lastStallCheck > std::chrono::milliseconds(200)) {
      lastStallCheck = now;
      for (Session* s : sessions) {
        if (s->done || s->lastProgress == kReported) continue;
        if (now - s->lastProgress > std::chrono::duration<double>(stallSeconds)) {
          // The block was sent, and part of it never came back: the server dropped output (the
          // limitation of lessons 3-9), or it hangs. Either way this session can make no progress.
          std::fprintf(stderr,
                       "pingpong: session %d: no echo for %.1f s, %zu of %zu bytes back of %zu "
                       "sent\n",
                       s->id, stallSeconds, s->got, s->expected[s->parity].size(), s->sent);
          stalled->fetch_add(1);
          s->lastProgress = kReported;
        }
      }
    }
  }
  ::close(epollFd);
}

struct Snapshot {
  uint64_t bytes = 0;
  uint64_t messages = 0;
  Clock::time_point when;
};

Snapshot snapshot(const std::vector<std::unique_ptr<Counters>>& counters) {
  Snapshot s;
  s.when = Clock::now();
  for (const auto& c : counters) {
    s.bytes += c->bytes.load(std::memory_order_relaxed);
    s.messages += c->messages.load(std::memory_order_relaxed);
  }
  return s;
}

void sleepFor(double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

}  // namespace

int main(int argc, char* argv[]) {
  const Options o = parseOptions(argc, argv);

  std::vector<Session> sessions(static_cast<size_t>(o.sessions));
  for (int i = 0; i < o.sessions; ++i) {
    Session& s = sessions[static_cast<size_t>(i)];
    s.id = i;
    fillBlock(&s.expected[0], i, 0, o.block);
    fillBlock(&s.expected[1], i, 1, o.block);
    s.received.resize(static_cast<size_t>(o.block));
    s.fd = connectTo(o, i);
  }
  std::printf("pingpong: %d sessions of %d-byte blocks to %s:%d, %d threads, %.1f s warm-up, "
              "%.1f s measured\n",
              o.sessions, o.block, o.host.c_str(), o.port, o.threads, o.warmup, o.seconds);
  std::fflush(stdout);

  // Session i belongs to thread i % threads.
  std::vector<std::unique_ptr<Counters>> counters;
  std::vector<std::thread> threads;
  std::atomic<int> stalled{0};
  for (int t = 0; t < o.threads; ++t) {
    std::vector<Session*> mine;
    for (int i = t; i < o.sessions; i += o.threads) mine.push_back(&sessions[static_cast<size_t>(i)]);
    counters.push_back(std::make_unique<Counters>());
    threads.emplace_back(runThread, mine, counters.back().get(), o.stallSeconds, &stalled);
  }

  sleepFor(o.warmup);
  const Snapshot start = snapshot(counters);
  sleepFor(o.seconds);
  const Snapshot end = snapshot(counters);
  stopping = true;
  for (std::thread& t : threads) t.join();
  for (Session& s : sessions) ::close(s.fd);

  const double elapsed = std::chrono::duration<double>(end.when - start.when).count();
  const double bytes = static_cast<double>(end.bytes - start.bytes);
  const double messages = static_cast<double>(end.messages - start.messages);
  const double mibPerSecond = bytes / elapsed / (1024.0 * 1024.0);
  const double messagesPerSecond = messages / elapsed;
  std::printf("pingpong: %.1f MiB/s, %.0f messages/s (round trips of one block)\n", mibPerSecond,
              messagesPerSecond);
  std::printf("result sessions=%d block=%d threads=%d seconds=%.3f bytes=%.0f messages=%.0f "
              "mib_per_s=%.2f msgs_per_s=%.1f stalled=%d\n",
              o.sessions, o.block, o.threads, elapsed, bytes, messages, mibPerSecond,
              messagesPerSecond, stalled.load());
  std::fflush(stdout);
  if (stalled.load() > 0) {
    std::fprintf(stderr, "pingpong: FAILED: %d of %d sessions stalled: the server lost echo bytes\n",
                 stalled.load(), o.sessions);
    return 1;
  }
  return 0;
}
