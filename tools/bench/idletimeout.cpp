// Idle-timeout load generator: N connections that fall silent, which a server with an idle timeout
// must close, and A that keep talking, which it must not close.
//
// Every connection sends one message of B bytes and reads its echo back (checked). The N idle ones
// send theirs once every connect has completed, spread evenly over --spread seconds (one tick of
// the server's wheel by default, so that their last messages fall at every point of a tick), then
// send nothing more and wait for the server to close them: the time from a connection's last byte
// sent (when its write() returned) to the client seeing the end of stream or a reset is its close
// delay. The A active ones send a message as soon as they are connected, and then one every
// --interval seconds, each once the previous echo is back. When every idle connection has been
// closed (or given up on), the active ones go on for --keep-active seconds more, then stop (an echo
// still on its way is read first) and fall silent too, and are measured like the idle ones. One
// thread, one epoll; the client never closes a connection itself before the end.
//
// Every wait is bounded: a connect and an echo by --timeout, the server's close of a silent
// connection by --wait from its last byte sent (it is then counted as open, and closed by the
// client at the end).
//
// Local ports: as idleconn.cpp (which says why), beyond about half the ephemeral port range the
// connections are spread over source addresses 127.0.0.2 and up, all loopback.
//
// The last line is machine-readable, `result key=value ...`:
//   connected, connect_failed, sources       the connects
//   idle, idle_echoed, idle_closed, idle_eof, idle_reset, idle_open, idle_lost, idle_early,
//   idle_late, close_min, close_median, close_max
//                                            the idle connections: echoed once; closed by the
//                                            server (end of stream, reset); still open after
//                                            --wait; closed or echoed wrongly before they fell
//                                            silent; close delays below --early, above --late; the
//                                            delays in seconds
//   active, pings, echoes, lost, wrong, active_closed_early, active_closed, active_open,
//   active_early, active_late, active_close_min, active_close_max
//                                            the active connections: messages sent, whole echoes
//                                            back; echoes that never came (or the connection closed
//                                            under them); wrong or unasked-for bytes; closed by the
//                                            server while still talking; once silent, closed or
//                                            still open, and their close delays
//   seconds                                  the whole run
// Exit codes: 0 the run finished (the runner judges the figures); 1 a system call failed; 2 bad
// usage.
//
//   idletimeout --port P [--host 127.0.0.1] [--idle 10000] [--active 100] [--interval 0.25]
//               [--spread 1] [--message-bytes 16] [--keep-active 3] [--early 2] [--late 3.5]
//               [--wait 10] [--timeout 30] [--sources 0]

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli.h"
#include "sockets.h"

namespace {

struct Options {
  ServerAddress server;
  int idle = 10000;
  int active = 100;
  double interval = 0.25;
  double spread = 1;
  int messageBytes = 16;
  double keepActive = 3;
  double early = 2;   // a close delay below this is counted as early
  double late = 3.5;  // ... above this as late
  double wait = 10;
  double timeout = 30;
  int sources = 0;
};

const Program kProgram("idletimeout");

// The header of every message: the connection's index and the message's number.
constexpr int kHeaderBytes = 8;

Options parseOptions(int argc, char* argv[]) {
  Options o;
  parseCommandLine(kProgram, argc, argv, &o.server,
                   {{"--idle", "N", &o.idle, 0, 1000000},
                    {"--active", "A", &o.active, 0, 100000},
                    {"--interval", "S", &o.interval, 0.01, 60},
                    {"--spread", "S", &o.spread, 0, 60},
                    {"--message-bytes", "BYTES", &o.messageBytes, kHeaderBytes, 4096},
                    {"--keep-active", "S", &o.keepActive, 0, 3600},
                    {"--early", "S", &o.early, 0, 3600},
                    {"--late", "S", &o.late, 0, 3600},
                    {"--wait", "S", &o.wait, 0.1, 3600},
                    {"--timeout", "S", &o.timeout, 0.1, 3600},
                    {"--sources", "K", &o.sources, 0, 250}});
  if (o.idle + o.active == 0) kProgram.fail("--idle and --active are both 0: nothing to do");
  return o;
}

enum class State {
  kConnecting,  // the connect is on its way
  kEchoing,     // a message is out, its echo not all back
  kWaiting,     // connected, its next message not yet sent (an idle one: its only message)
  kSilent,      // done talking: waits for the server to close it
  kDone,        // closed (by the server, or given up on), its fd too
};

struct Conn {
  int fd = -1;
  int index = 0;
  bool active = false;
  State state = State::kConnecting;
  double since = 0;     // kConnecting: the connect's start; kEchoing: the message's send
  double lastSent = 0;  // when the last write() returned
  double nextSend = 0;  // kWaiting: when the next message goes
  uint32_t sequence = 0;
  std::vector<unsigned char> message;  // the message out, whose echo is awaited
  size_t echoed = 0;                   // bytes of it back
};

struct Figures {
  int connected = 0, connectFailed = 0, sourcesUsed = 0;
  int idleEchoed = 0, idleClosed = 0, idleEof = 0, idleReset = 0, idleOpen = 0, idleLost = 0;
  int idleEarly = 0, idleLate = 0;
  std::vector<double> idleDelays;
  uint64_t pings = 0, echoes = 0, lost = 0, wrong = 0;
  int activeClosedEarly = 0, activeClosed = 0, activeOpen = 0, activeEarly = 0, activeLate = 0;
  std::vector<double> activeDelays;
};

class Client {
 public:
  explicit Client(const Options& o)
      : o_(o), epoll_(kProgram), conns_(static_cast<size_t>(o.idle + o.active)) {}

  void run() {
    connectAll();
    loop();
    report(now() - start_);
  }

 private:
  // Starts every connect without waiting (non-blocking); the loop sees them complete.
  void connectAll() {
    const int total = static_cast<int>(conns_.size());
    const int sources = sourceAddresses(o_.sources, total);
    f_.sourcesUsed = sources;
    for (int i = 0; i < total; ++i) {
      Conn& c = conns_[static_cast<size_t>(i)];
      c.index = i;
      c.active = i >= o_.idle;
      c.fd = tcpSocket(kProgram, SOCK_NONBLOCK, "connection " + std::to_string(i));
      bindSource(kProgram, c.fd, i, sources);
      c.since = now();
      const sockaddr_in& server = o_.server.address;
      const int rc = ::connect(c.fd, reinterpret_cast<const sockaddr*>(&server), sizeof server);
      if (rc == 0) {
        epoll_.add(c.fd, EPOLLIN, &c);
        connected(c);
      } else if (errno == EINPROGRESS) {
        epoll_.add(c.fd, EPOLLOUT, &c);
        ++connecting_;
      } else {
        connectFailed(c, errno);
      }
    }
    if (connecting_ == 0) connectsDone_ = now();
  }

  void connected(Conn& c) {
    ++f_.connected;
    if (c.active) {
      send(c);
    } else {
      c.state = State::kWaiting;  // the loop sends its message in its turn
    }
  }

  // A connect that was on its way has completed, or failed.
  void connectEnded() {
    if (--connecting_ == 0) connectsDone_ = now();
  }

  // When idle connection i sends its message: spread over --spread seconds from the end of the
  // connects.
  double idleSendTime(int i) const { return connectsDone_ + o_.spread * i / std::max(o_.idle, 1); }

  void connectFailed(Conn& c, int error) {
    // The first failure says why; thousands more lines would only repeat it.
    if (f_.connectFailed++ == 0) {
      std::fprintf(stderr, "idletimeout: connect: %s\n", std::strerror(error));
    }
    finish(c);
  }

  // Sends the connection's next message: its index, the message's number, then bytes that depend
  // on both. B bytes always fit a socket that has nothing else waiting to go.
  void send(Conn& c) {
    c.message.resize(static_cast<size_t>(o_.messageBytes));
    const uint32_t head[2] = {static_cast<uint32_t>(c.index), c.sequence++};
    std::memcpy(c.message.data(), head, sizeof head);
    for (size_t i = kHeaderBytes; i < c.message.size(); ++i) {
      c.message[i] = static_cast<unsigned char>(c.index + c.sequence + i);
    }
    const ssize_t n = ::send(c.fd, c.message.data(), c.message.size(), MSG_NOSIGNAL);
    const double t = now();
    if (n != static_cast<ssize_t>(c.message.size())) {
      closedUnderMessage(c, t, n < 0 ? std::strerror(errno) : "a short write");
      return;
    }
    c.echoed = 0;
    c.since = t;
    c.lastSent = t;
    c.state = State::kEchoing;
    if (c.active) ++f_.pings;
  }

  // The connection failed while a message of its was out: its echo is lost.
  void closedUnderMessage(Conn& c, double t, const char* why) {
    if (c.active) {
      ++f_.lost;
      if (pinging_) ++f_.activeClosedEarly;
    } else {
      ++f_.idleLost;
    }
    if (lostReported_++ == 0) {
      std::fprintf(stderr, "idletimeout: connection %d (%s), %.3f s after its last message: %s\n",
                   c.index, c.active ? "active" : "idle", t - c.lastSent, why);
    }
    finish(c);
  }

  void finish(Conn& c) {
    if (c.fd >= 0) {
      epoll_.remove(c.fd);
      ::close(c.fd);
      c.fd = -1;
    }
    c.state = State::kDone;
    c.message.clear();
    c.message.shrink_to_fit();
  }

  void onEvent(Conn& c) {
    const double t = now();
    if (c.state == State::kConnecting) {
      int error = 0;
      socklen_t length = sizeof error;
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) {
        connectFailed(c, error);
      } else {
        epoll_.modify(c.fd, EPOLLIN, &c);
        connected(c);
      }
      connectEnded();
      return;
    }
    unsigned char buffer[4096];
    for (;;) {
      const ssize_t n = ::read(c.fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) {
        closedByServer(c, t, n == 0 ? 0 : errno);
        return;
      }
      received(c, t, buffer, static_cast<size_t>(n));
      if (c.state == State::kDone) return;
    }
  }

  void received(Conn& c, double t, const unsigned char* data, size_t n) {
    const size_t left = c.state == State::kEchoing ? c.message.size() - c.echoed : 0;
    if (n > left || std::memcmp(data, c.message.data() + c.echoed, n) != 0) {
      ++f_.wrong;  // bytes nobody asked for, or the wrong ones: counted, the run goes on
      if (wrongReported_++ == 0) {
        std::fprintf(stderr, "idletimeout: connection %d: %zu unexpected or wrong bytes\n", c.index,
                     n);
      }
      return;
    }
    c.echoed += n;
    if (c.echoed < c.message.size()) return;
    if (!c.active) {
      ++f_.idleEchoed;
      c.state = State::kSilent;
    } else {
      ++f_.echoes;
      if (pinging_) {
        c.state = State::kWaiting;
        c.nextSend = std::max(c.lastSent + o_.interval, t);
      } else {
        c.state = State::kSilent;
      }
    }
  }

  // error: 0 for the end of stream, else read()'s errno (a reset).
  void closedByServer(Conn& c, double t, int error) {
    if (c.state == State::kEchoing) {
      closedUnderMessage(c, t, error == 0 ? "end of stream before the echo" : std::strerror(error));
      return;
    }
    if (c.state == State::kWaiting) {  // closed while it still talks, or before its message
      ++(c.active ? f_.activeClosedEarly : f_.idleLost);
      if (lostReported_++ == 0) {
        std::fprintf(stderr, "idletimeout: %s connection %d closed before it was done talking\n",
                     c.active ? "active" : "idle", c.index);
      }
      finish(c);
      return;
    }
    const double delay = t - c.lastSent;
    if (c.active) {
      ++f_.activeClosed;
      f_.activeDelays.push_back(delay);
      f_.activeEarly += delay < o_.early;
      f_.activeLate += delay > o_.late;
    } else {
      ++f_.idleClosed;
      ++(error == 0 ? f_.idleEof : f_.idleReset);
      f_.idleDelays.push_back(delay);
      f_.idleEarly += delay < o_.early;
      f_.idleLate += delay > o_.late;
    }
    finish(c);
  }

  // Connects, echoes, timeouts and the active ones' messages, until every connection is done.
  void loop() {
    std::vector<epoll_event> events(1024);
    double lastScan = 0;
    double stopAt = -1;  // when the active ones stop talking: set once the idle ones are done
    const size_t total = conns_.size();
    size_t done = 0;
    while (done < total) {
      const double t = now();
      // The idle ones' messages, in their turn (one that connects after its turn sends at once).
      while (connectsDone_ >= 0 && nextIdle_ < o_.idle && idleSendTime(nextIdle_) <= t) {
        Conn& c = conns_[static_cast<size_t>(nextIdle_++)];
        if (c.state == State::kWaiting) send(c);
      }
      if (pinging_) {
        for (size_t i = static_cast<size_t>(o_.idle); i < total; ++i) {
          Conn& c = conns_[i];
          if (c.state == State::kWaiting && c.nextSend <= t) send(c);
        }
      }
      if (t - lastScan >= 0.05) {  // the deadlines need not be met to the millisecond
        lastScan = t;
        done = scan(t);
        if (pinging_ && stopAt < 0 && idleDone()) {
          stopAt = t + o_.keepActive;
          std::printf("idle done at %.3f s; the active ones go on for %g s\n", t - start_,
                      o_.keepActive);
        }
        if (pinging_ && stopAt >= 0 && t >= stopAt) stopTalking();
      }
      const int n = epoll_.wait(&events, pinging_ ? 5 : 20);
      for (int k = 0; k < n; ++k) {
        onEvent(*static_cast<Conn*>(events[static_cast<size_t>(k)].data.ptr));
      }
    }
  }

  // Gives up on what has waited too long; returns how many connections are done.
  size_t scan(double t) {
    size_t done = 0;
    for (Conn& c : conns_) {
      switch (c.state) {
        case State::kConnecting:
          if (t - c.since > o_.timeout) {
            connectFailed(c, ETIMEDOUT);
            connectEnded();
          }
          break;
        case State::kEchoing:
          if (t - c.since > o_.timeout) closedUnderMessage(c, t, "no echo within --timeout");
          break;
        case State::kSilent:
          if (t - c.lastSent > o_.wait) {
            ++(c.active ? f_.activeOpen : f_.idleOpen);
            finish(c);
          }
          break;
        case State::kWaiting:
          break;
        case State::kDone:
          break;
      }
      done += c.state == State::kDone;
    }
    return done;
  }

  bool idleDone() const {
    for (int i = 0; i < o_.idle; ++i) {
      const State s = conns_[static_cast<size_t>(i)].state;
      if (s != State::kDone) return false;
    }
    return true;
  }

  // The active connections fall silent: those between two messages now, the others once their
  // echo is back.
  void stopTalking() {
    pinging_ = false;
    for (size_t i = static_cast<size_t>(o_.idle); i < conns_.size(); ++i) {
      if (conns_[i].state == State::kWaiting) conns_[i].state = State::kSilent;
    }
    std::printf("active stopped at %.3f s\n", now() - start_);
  }

  static double quantile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
  }

  void report(double seconds) {
    const std::vector<double>& d = f_.idleDelays;
    const std::vector<double>& a = f_.activeDelays;
    std::printf(
        "result connected=%d connect_failed=%d sources=%d idle=%d idle_echoed=%d idle_closed=%d "
        "idle_eof=%d idle_reset=%d idle_open=%d idle_lost=%d idle_early=%d idle_late=%d "
        "close_min=%.3f close_median=%.3f close_max=%.3f active=%d pings=%llu echoes=%llu "
        "lost=%llu wrong=%llu active_closed_early=%d active_closed=%d active_open=%d "
        "active_early=%d active_late=%d active_close_min=%.3f active_close_max=%.3f "
        "seconds=%.3f\n",
        f_.connected, f_.connectFailed, f_.sourcesUsed, o_.idle, f_.idleEchoed, f_.idleClosed,
        f_.idleEof, f_.idleReset, f_.idleOpen, f_.idleLost, f_.idleEarly, f_.idleLate,
        quantile(d, 0), quantile(d, 0.5), quantile(d, 1), o_.active,
        static_cast<unsigned long long>(f_.pings), static_cast<unsigned long long>(f_.echoes),
        static_cast<unsigned long long>(f_.lost), static_cast<unsigned long long>(f_.wrong),
        f_.activeClosedEarly, f_.activeClosed, f_.activeOpen, f_.activeEarly, f_.activeLate,
        quantile(a, 0), quantile(a, 1), seconds);
  }

  const Options& o_;
  Epoll epoll_;
  std::vector<Conn> conns_;  // never resized after the start: epoll holds pointers into it
  Figures f_;
  const double start_ = now();
  bool pinging_ = true;
  int connecting_ = 0;        // connects on their way
  double connectsDone_ = -1;  // when the last connect completed (or failed)
  int nextIdle_ = 0;          // the next idle connection to send its message
  int lostReported_ = 0;
  int wrongReported_ = 0;
};

}  // namespace

int main(int argc, char* argv[]) {
  const Options o = parseOptions(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Client client(o);
  client.run();
  return 0;
}
