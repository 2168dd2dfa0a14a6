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
#include "sockets.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  ServerAddress server;
  int sessions = 10;
  int block = 16384;
  double seconds = 5;
  double warmup = 1;
  int threads = 2;
  double stallSeconds = 3;
};

const Program kProgram("pingpong");

Options parseOptions(int argc, char* argv[]) {
  Options o;
  parseCommandLine(kProgram, argc, argv, &o.server,
                   {{"--sessions", "N", &o.sessions, 1, 100000},
                    {"--block", "BYTES", &o.block, 1, 64 << 20},
                    {"--seconds", "T", &o.seconds, 0.1, 3600},
                    {"--warmup", "W", &o.warmup, 0, 3600},
                    {"--threads", "K", &o.threads, 1, 256},
                    {"--stall-seconds", "S", &o.stallSeconds, 0.1, 3600}});
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
  int parity = 0;          // which reference block is in flight
  size_t sent = 0;         // bytes of the current block written so far
  size_t got = 0;          // bytes of the current block echoed back so far
  bool wantWrite = false;  // EPOLLOUT is enabled (the socket's send buffer was full)
  bool done = false;       // the run is over and this session's last block came back
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

std::string sessionName(int id) { return "session " + std::to_string(id); }

int connectTo(const ServerAddress& server, int id) {
  const std::string session = sessionName(id);
  const int fd = tcpSocket(kProgram, 0, session);
  // Connect blocking: setup is not measured, and a refused connection is simplest to report here.
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&server.address), sizeof server.address) <
      0) {
    kProgram.failErrno(session + ": connect to " + server.host + ":" + std::to_string(server.port));
  }
  const int on = 1;  // without it, Nagle would hold back the tail of each block for an ACK
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) < 0) {
    kProgram.failErrno("TCP_NODELAY");
  }
  if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) kProgram.failErrno("O_NONBLOCK");
  return fd;
}

void setEvents(Epoll* epoll, Session* s, bool write) {
  epoll->modify(s->fd, EPOLLIN | (write ? EPOLLOUT : 0u), s);
  s->wantWrite = write;
}

// Writes what the socket takes of the current block; waits for EPOLLOUT if it takes less.
void writeSome(Epoll* epoll, Session* s) {
  const std::vector<char>& block = s->expected[s->parity];
  while (s->sent < block.size()) {
    const ssize_t n = ::write(s->fd, block.data() + s->sent, block.size() - s->sent);
    if (n > 0) {
      s->sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!s->wantWrite) setEvents(epoll, s, true);
      return;
    }
    kProgram.failErrno(sessionName(s->id) + ": write");
  }
  if (s->wantWrite) setEvents(epoll, s, false);
}

// Reads what has come back, checks it, and starts the next round when the block is complete.
void readSome(Epoll* epoll, Session* s, Counters* counters) {
  for (;;) {
    const std::vector<char>& block = s->expected[s->parity];
    // Never read past the current block: the server echoes only what we sent, so anything more
    // is an error, which the got > sent check below catches.
    const ssize_t n = ::read(s->fd, s->received.data() + s->got, block.size() - s->got);
    if (n == 0) kProgram.fail(sessionName(s->id) + ": the server closed the connection");
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      kProgram.failErrno(sessionName(s->id) + ": read");
    }
    const size_t from = s->got;
    s->got += static_cast<size_t>(n);
    if (s->got > s->sent) {
      kProgram.fail(sessionName(s->id) + ": got " + std::to_string(s->got) +
                    " bytes back of a block of which only " + std::to_string(s->sent) +
                    " were sent");
    }
    if (std::memcmp(s->received.data() + from, block.data() + from, static_cast<size_t>(n)) != 0) {
      size_t at = from;
      while (s->received[at] == block[at]) ++at;
      kProgram.fail(sessionName(s->id) + ": wrong echo at byte " + std::to_string(at) + " of a " +
                    std::to_string(block.size()) + "-byte block");
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
      writeSome(epoll, s);
      // The echo of the new block cannot be complete yet: wait for epoll rather than spend a read
      // that would only say EAGAIN (the server's share of the two cores is what is measured).
      return;
    }
  }
}

void runThread(std::vector<Session*> sessions, Counters* counters, double stallSeconds,
               std::atomic<int>* stalled) {
  Epoll epoll(kProgram);
  for (Session* s : sessions) {
    epoll.add(s->fd, EPOLLIN, s);
    s->lastProgress = Clock::now();
    writeSome(&epoll, s);
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
    const int n = epoll.wait(&events, 100);
    for (int i = 0; i < n; ++i) {
      Session* s = static_cast<Session*>(events[i].data.ptr);
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readSome(&epoll, s, counters);
      if (events[i].events & EPOLLOUT) writeSome(&epoll, s);
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
    s.fd = connectTo(o.server, i);
  }
  std::printf(
      "pingpong: %d sessions of %d-byte blocks to %s:%d, %d threads, %.1f s warm-up, "
      "%.1f s measured\n",
      o.sessions, o.block, o.server.host.c_str(), o.server.port, o.threads, o.warmup, o.seconds);
  std::fflush(stdout);

  // Session i belongs to thread i % threads.
  std::vector<std::unique_ptr<Counters>> counters;
  std::vector<std::thread> threads;
  std::atomic<int> stalled{0};
  for (int t = 0; t < o.threads; ++t) {
    std::vector<Session*> mine;
    for (int i = t; i < o.sessions; i += o.threads) {
      mine.push_back(&sessions[static_cast<size_t>(i)]);
    }
    counters.push_back(std::make_unique<Counters>());
    threads.emplace_back(runThread, mine, counters.back().get(), o.stallSeconds, &stalled);
  }

  const auto [start, end] =
      measure(o.warmup, o.seconds, &stopping, [&counters] { return snapshot(counters); });
  for (std::thread& t : threads) t.join();
  for (Session& s : sessions) ::close(s.fd);

  const double elapsed = std::chrono::duration<double>(end.when - start.when).count();
  const double bytes = static_cast<double>(end.bytes - start.bytes);
  const double messages = static_cast<double>(end.messages - start.messages);
  const double mibPerSecond = bytes / elapsed / (1024.0 * 1024.0);
  const double messagesPerSecond = messages / elapsed;
  std::printf("pingpong: %.1f MiB/s, %.0f messages/s (round trips of one block)\n", mibPerSecond,
              messagesPerSecond);
  std::printf(
      "result sessions=%d block=%d threads=%d seconds=%.3f bytes=%.0f messages=%.0f "
      "mib_per_s=%.2f msgs_per_s=%.1f stalled=%d\n",
      o.sessions, o.block, o.threads, elapsed, bytes, messages, mibPerSecond, messagesPerSecond,
      stalled.load());
  std::fflush(stdout);
  if (stalled.load() > 0) {
    std::fprintf(stderr,
                 "pingpong: FAILED: %d of %d sessions stalled: the server lost echo bytes\n",
                 stalled.load(), o.sessions);
    return 1;
  }
  return 0;
}
