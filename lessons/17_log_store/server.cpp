// The echo server, with the work in a thread pool and the connections on --threads I/O loops, with
// --stats-ms a line of figures every so often, from a timer of the main loop, and with
// --idle-timeout the connections that have sent nothing for a while closed, by a timing wheel in
// each I/O loop. What happens to connections, and what goes wrong, is logged (Logging.h) to stderr,
// at --log-level and above; stdout keeps the lines the program is asked for (ready, stats).
//
// With --threads N, N > 0, the main loop only accepts and hands each new connection to one of N I/O
// loops, each in a thread of its own, in turn: a connection's callbacks run in its loop's thread.
// Everything the dispatcher keeps about a connection lives in a map of that loop's, touched by that
// thread only; the thread pool and the line waiting for room in its queue are shared.
//
// Each message is worked on for --work-ms milliseconds before it is echoed: a stand-in for a
// blocking call, such as a database query. Lesson 10 slept in the loop, and one client's work
// stalled every other client. Here a ThreadPool of --workers threads does the work, and the loop
// goes on reading and writing for everyone else meanwhile. Three rules keep it correct:
//
// - Only the loop thread touches a connection. A worker hands its reply to the loop
//   (EventLoop::queueInLoop), addressed by the connection's id, which the loop looks up: a
//   connection that closed while its work ran is simply not found. (The worker could hold a
//   TcpConnectionPtr and call send() itself, lesson 14's send() being safe from any thread; but the
//   last reference could then be let go of in a worker, and the reply has the dispatch state below
//   to update in the loop anyway. The id finds that state, which exists while the connection is
//   up.)
// - A connection has at most one task in the pool. What it sends meanwhile waits in its input
//   buffer and becomes its next task: its bytes come back complete and in order.
// - The loop never blocks and no byte is dropped. A connection whose input piles up while its task
//   runs, whose task finds the pool's queue full, or whose output piles up (lesson 10) is not read
//   for a while: TCP's flow control slows its client down. Reading resumes when the reason is gone.

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "Buffer.h"
#include "EventLoop.h"
#include "InetAddress.h"
#include "Logging.h"
#include "Options.h"
#include "SignalWatcher.h"
#include "TcpConnection.h"
#include "TcpServer.h"
#include "ThreadPool.h"
#include "TimingWheel.h"
#include "noncopyable.h"

namespace {

const char kUsage[] =
    "usage: server [--host ADDR] [--port N] [--threads N] [--work-ms MS] [--workers N] [--queue "
    "N]\n"
    "              [--stats-ms MS] [--idle-timeout S] [--log-level LEVEL]\n"
    "  --host ADDR    IPv4 address to listen on (default 127.0.0.1)\n"
    "  --port N       port to listen on, 0 lets the kernel choose (default 9877)\n"
    "  --threads N    I/O threads besides the accepting one; 0: one loop does all (default 0)\n"
    "  --work-ms MS   work on each message for MS milliseconds before echoing it (default 0)\n"
    "  --workers N    threads doing that work; 0: none, the loop does it (default 4)\n"
    "  --queue N      at most N tasks wait for a worker (default 64)\n"
    "  --stats-ms MS  print a stats line every MS milliseconds; 0: never (default 0)\n"
    "  --idle-timeout S  close a connection that sends nothing for S seconds; 0: never (default "
    "0)\n"
    "  --log-level LEVEL  log at LEVEL and above: trace, debug, info, warn, error, fatal (default "
    "info)\n";

// How much echo may wait for a slow reader, and how much input may wait for its connection's task
// to finish, before we stop reading from that client.
constexpr size_t kHighWaterMark = 1024 * 1024;
constexpr size_t kMaxWaitingInput = 1024 * 1024;

// Runs every connection's messages through the pool, one task at a time per connection, and sends
// the replies. A connection's callbacks run in its I/O loop's thread, and so does everything done
// here about it: each loop has a map of its own connections' work, which only that loop's thread
// touches. The pool, and the line of connections waiting for room in its queue, are shared.
class Dispatcher : noncopyable {
 public:
  explicit Dispatcher(const Options& options) : workMs_(options.workMs) {}

  // The loops the connections will be given to, and the pool, before the first connection
  // arrives: the maps are made now, and only read afterwards.
  void start(const std::vector<EventLoop*>& loops, ThreadPool* pool) {
    for (EventLoop* loop : loops) works_.emplace(loop, std::make_unique<Works>());
    pool_ = pool;
  }

  // The line is served no more: at shutdown, before the workers stop and the I/O loops go (a reply
  // still running in one loop must not hand the room in the queue to another, gone already).
  void stop() {
    std::lock_guard<std::mutex> lock(lineMutex_);
    stopping_ = true;
    line_.clear();
  }

  void onConnection(const TcpConnectionPtr& conn) {
    Works& works = worksOf(conn->getLoop());
    if (conn->connected()) {
      works.emplace(conn->id(), Work{conn.get()});
    } else {
      works.erase(conn->id());  // a reply or its turn still to come finds nothing
    }
  }

  void onMessage(const TcpConnectionPtr& conn, Buffer* input) {
    Work& work = worksOf(conn->getLoop()).at(conn->id());
    if (!work.inPool && !work.waitingForQueue) {
      submitOrWait(work);
    } else if (input->readableBytes() >= kMaxWaitingInput) {
      work.inputFull = true;  // its task is still running: wait for it before reading more
    }
    update(work);
  }

  void onHighWaterMark(const TcpConnectionPtr& conn) {
    Work& work = worksOf(conn->getLoop()).at(conn->id());
    work.outputFull = true;
    update(work);
  }

  void onWriteComplete(const TcpConnectionPtr& conn) {
    Work& work = worksOf(conn->getLoop()).at(conn->id());
    work.outputFull = false;
    update(work);
  }

 private:
  struct Work {
    TcpConnection* conn;           // valid while this entry exists: erased when it goes down
    bool inPool = false;           // a task of this connection is queued or running
    bool waitingForQueue = false;  // it waits in line for room in the queue
    bool inputFull = false;        // its input piled up while its task ran
    bool outputFull = false;       // its output is past the high-water mark
  };
  using Works = std::unordered_map<uint64_t, Work>;
  struct Place {  // in line: a connection, and the loop whose map holds it
    EventLoop* loop;
    uint64_t connId;
  };

  Works& worksOf(EventLoop* loop) { return *works_.at(loop); }

  // The input waiting becomes a task: at once if nobody waits in line and the queue has room, else
  // at the back of the line (first come, first served).
  void submitOrWait(Work& work) {
    if (work.conn->inputBuffer()->readableBytes() == 0) return;
    bool lineEmpty;
    {
      std::lock_guard<std::mutex> lock(lineMutex_);
      lineEmpty = line_.empty();
    }
    if (!lineEmpty || !trySubmit(work)) joinLine(work, false);
  }

  void joinLine(Work& work, bool atFront) {
    work.waitingForQueue = true;
    const Place place{work.conn->getLoop(), work.conn->id()};
    std::lock_guard<std::mutex> lock(lineMutex_);
    if (atFront) {
      line_.push_front(place);
    } else {
      line_.push_back(place);
    }
  }

  // Makes the connection's waiting input its next task, if the queue has room.
  bool trySubmit(Work& work) {
    Buffer* input = work.conn->inputBuffer();
    EventLoop* loop = work.conn->getLoop();
    Dispatcher* self = this;
    const uint64_t id = work.conn->id();
    const int workMs = workMs_;
    std::string data(input->peek(), input->readableBytes());
    const bool queued = pool_->tryRun([loop, self, id, workMs, data = std::move(data)]() mutable {
      // A worker thread: it touches nothing of the loops', and hands the reply to the connection's
      // loop with a copy of everything it needs. `self` and the loops outlive the workers: the
      // pool is joined first (main()).
      if (workMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(workMs));
      loop->queueInLoop(
          [loop, self, id, data = std::move(data)] { self->onReply(loop, id, data); });
    });
    if (queued) {
      input->retrieveAll();
      work.inPool = true;
      work.inputFull = false;
      work.waitingForQueue = false;
    }
    return queued;
  }

  // In the connection's loop. A worker has become free: the queue has room for one more task.
  void onReply(EventLoop* loop, uint64_t connId, const std::string& reply) {
    Works& works = worksOf(loop);
    auto found = works.find(connId);
    if (found != works.end()) {  // else it closed while its work ran
      found->second.inPool = false;
      found->second.conn->send(reply);
      // send() may have closed the connection (the kernel refusing to watch it): look again.
      found = works.find(connId);
      if (found != works.end() && found->second.conn->inputBuffer()->readableBytes() > 0) {
        joinLine(found->second, false);  // what arrived while the work ran: behind those waiting
      }
    }
    serveLine();
    found = works.find(connId);
    if (found != works.end()) update(found->second);  // last: it may close the connection
  }

  // Gives the room in the queue to the first in line, in its own loop. Queued under the lock, so
  // that once stop() has taken it no call to a loop is on its way: the loops go away after that.
  void serveLine() {
    std::lock_guard<std::mutex> lock(lineMutex_);
    if (stopping_ || line_.empty()) return;
    const Place first = line_.front();
    line_.pop_front();
    first.loop->queueInLoop([this, first] { serve(first); });
  }

  // In the loop of `place`.
  void serve(Place place) {
    Works& works = worksOf(place.loop);
    auto found = works.find(place.connId);
    if (found == works.end() || !found->second.waitingForQueue) {
      serveLine();  // it has gone: the room is the next one's
      return;
    }
    if (!trySubmit(found->second)) {
      joinLine(found->second, true);  // no room after all: still first, for the next reply
      return;
    }
    update(found->second);
  }

  // Makes the connection's reading and closing follow its work: not read while something piles up,
  // and not closed by the peer's end of stream while its bytes are still to be echoed (the peer
  // half-closed: it still reads). Each call below may close the connection (the kernel refusing
  // epoll_ctl, or the hold let go), which erases `work`: everything is read from it first. The
  // connection itself lives until the end of the loop's round.
  static void update(Work& work) {
    TcpConnection* conn = work.conn;
    const bool read = !(work.waitingForQueue || work.inputFull || work.outputFull);
    const bool hold = work.inPool || work.waitingForQueue;
    if (read) {
      conn->startRead();
    } else {
      conn->stopRead();
    }
    conn->holdClose(hold);
  }

  const int workMs_;
  std::unordered_map<EventLoop*, std::unique_ptr<Works>> works_;  // read-only once started
  std::mutex lineMutex_;
  std::deque<Place> line_;  // guarded by lineMutex_: connections waiting for room in the queue
  bool stopping_ = false;   // guarded by lineMutex_
  ThreadPool* pool_ = nullptr;
};

// --idle-timeout S: a TimingWheel in each loop that serves connections, so that a connection's
// callbacks and its wheel share a thread. The wheels are made before the first connection arrives,
// and the map is only read afterwards, as the Dispatcher's.
class IdleTimeouts : noncopyable {
 public:
  explicit IdleTimeouts(int seconds) : seconds_(seconds) {}

  // From the main thread, before any connection: each wheel starts its timer on its own loop
  // (runEvery may be called from any thread).
  void start(const std::vector<EventLoop*>& loops) {
    if (seconds_ == 0) return;
    for (EventLoop* loop : loops)
      wheels_.emplace(loop, std::make_unique<TimingWheel>(loop, seconds_));
  }

  void onConnection(const TcpConnectionPtr& conn) {
    if (seconds_ == 0) return;
    TimingWheel& wheel = *wheels_.at(conn->getLoop());
    if (conn->connected()) {
      wheel.add(conn);
    } else {
      wheel.remove(conn);
    }
  }

  void onMessage(const TcpConnectionPtr& conn) {
    if (seconds_ > 0) wheels_.at(conn->getLoop())->touch(conn);
  }

 private:
  const int seconds_;
  std::unordered_map<EventLoop*, std::unique_ptr<TimingWheel>> wheels_;  // read-only once started
};

// --workers 0: no pool. The loop works on each message itself and echoes it, as lesson 10 did (so
// --work-ms stalls every client again); what is left to compare with the pool is the cost of its
// hand-offs. The output's high-water mark stops reading until it has drained.
void echoInLoop(TcpServer& server, int workMs, IdleTimeouts& idle) {
  server.setMessageCallback([workMs, &idle](const TcpConnectionPtr& conn, Buffer* input) {
    idle.onMessage(conn);
    if (workMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(workMs));
    conn->send(input);
  });
  server.setHighWaterMarkCallback([](const TcpConnectionPtr& conn, size_t) { conn->stopRead(); },
                                  kHighWaterMark);
  server.setWriteCompleteCallback([](const TcpConnectionPtr& conn) { conn->startRead(); });
}

}  // namespace

int main(int argc, char* argv[]) {
  const Options options = parseCommandLine(argc, argv, kUsage);
  Logger::setLogLevel(options.logLevel);

  // Writing to a connection the peer has reset raises SIGPIPE, whose default action kills the whole
  // server. Ignored, the write fails with EPIPE instead and we drop just that connection.
  std::signal(SIGPIPE, SIG_IGN);
  // Line-buffered even when stdout is a file or a pipe, so that every line shows up when printed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  try {
    EventLoop loop;
    // Before any thread starts: the workers inherit the blocked signals (see SignalWatcher.h).
    SignalWatcher signals(&loop, {SIGINT, SIGTERM}, [&loop](int signo) {
      std::printf("%s: shutting down\n", SignalWatcher::describe(signo).c_str());
      loop.quit();
    });
    // What the callbacks use is declared before the server: ~TcpServer reports every connection
    // still open as closed, through these callbacks, so it must outlive the server.
    // Atomic: the connection callbacks run in the I/O loops' threads, the stats line in the main
    // loop's.
    std::atomic<int> clients{0};
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint64_t> closed{0};
    Dispatcher dispatcher(options);
    IdleTimeouts idle(options.idleTimeout);
    // Before the server too: its I/O loops offer the pool tasks until they stop. Started after the
    // signals are blocked (the workers inherit the mask). None with --workers 0.
    std::optional<ThreadPool> pool;
    if (options.workers > 0) {
      pool.emplace(static_cast<size_t>(options.workers), static_cast<size_t>(options.queue));
    }
    TcpServer server(&loop, InetAddress(options.port, options.host));
    server.setThreadNum(options.threads);
    server.setConnectionCallback([&clients, &accepted, &closed, &dispatcher, &pool,
                                  &idle](const TcpConnectionPtr& conn) {
      ++(conn->connected() ? accepted : closed);
      const int now = clients += conn->connected() ? 1 : -1;
      LOG_INFO << (conn->connected() ? "accepted " : "closed ") << conn->peerAddress().toIpPort()
               << " on " << conn->getLoop()->name() << " (" << now << " clients)";
      if (pool) dispatcher.onConnection(conn);
      idle.onConnection(conn);
    });
    if (pool) {
      server.setMessageCallback([&dispatcher, &idle](const TcpConnectionPtr& conn, Buffer* input) {
        idle.onMessage(conn);
        dispatcher.onMessage(conn, input);
      });
      server.setHighWaterMarkCallback(
          [&dispatcher](const TcpConnectionPtr& conn, size_t) { dispatcher.onHighWaterMark(conn); },
          kHighWaterMark);
      server.setWriteCompleteCallback(
          [&dispatcher](const TcpConnectionPtr& conn) { dispatcher.onWriteComplete(conn); });
    } else {
      echoInLoop(server, options.workMs, idle);
    }
    // Yet the workers must stop before the I/O loops do: a task still running hands its reply to
    // one of them. Declared after the server, this guard stops them first, whichever way main()
    // leaves this block; the pool then refuses the tasks the loops still offer.
    struct StopWorkersFirst {
      Dispatcher& dispatcher;
      std::optional<ThreadPool>& pool;
      ~StopWorkersFirst() {
        dispatcher.stop();
        if (pool) pool->stop();
      }
    } stopWorkersFirst{dispatcher, pool};
    server.start();
    if (pool) dispatcher.start(server.ioLoops(), &*pool);
    idle.start(server.ioLoops());
    std::printf("%d I/O threads, %d workers, %d ms of work per message, at most %d tasks waiting\n",
                options.threads, options.workers, options.workMs, options.queue);
    if (options.statsMs > 0) {
      // A repeating timer of the main loop: it runs in the loop's thread between two rounds of
      // events, so it needs no lock and no thread of its own, and the loop sleeps until it is due.
      const double interval = options.statsMs / 1000.0;
      loop.runEvery(interval, [&accepted, &closed] {
        // Closed first: a connection is counted accepted before it is counted closed, so the
        // difference is never negative, whatever the I/O threads do between the two loads.
        const unsigned long long down = closed.load();
        const unsigned long long up = accepted.load();
        std::printf("stats: %llu clients, %llu accepted, %llu closed\n", up - down, up, down);
      });
    }
    std::printf("listening on %s\n", server.listenAddress().toIpPort().c_str());
    loop.loop();
    return 0;  // the workers stop, then ~TcpServer closes every connection and stops the I/O loops
  } catch (const std::system_error& e) {
    // Setup failed (bind: address in use, ...) or the poller broke: nothing to serve with. Not a
    // log line: why the program does not run goes to the terminal, whatever --log-level (and
    // --log-dir) say.
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
