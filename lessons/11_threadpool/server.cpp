// The echo server, with the work in a thread pool.
//
// Each message is worked on for --work-ms milliseconds before it is echoed: a stand-in for a
// blocking call, such as a database query. Lesson 10 slept in the loop, and one client's work
// stalled every other client. Here a ThreadPool of --workers threads does the work, and the loop
// goes on reading and writing for everyone else meanwhile. Three rules keep it correct:
//
// - Only the loop thread touches a connection. A worker's reply comes back through a ResultQueue,
//   addressed by the connection's id, which the loop looks up: a connection that closed while its
//   work ran is simply not found.
// - A connection has at most one task in the pool. What it sends meanwhile waits in its input
//   buffer and becomes its next task: its bytes come back complete and in order.
// - The loop never blocks and no byte is dropped. A connection whose input piles up while its task
//   runs, whose task finds the pool's queue full, or whose output piles up (lesson 10) is not read
//   for a while: TCP's flow control slows its client down. Reading resumes when the reason is gone.

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "Buffer.h"
#include "EventLoop.h"
#include "InetAddress.h"
#include "Options.h"
#include "ResultQueue.h"
#include "SignalWatcher.h"
#include "TcpConnection.h"
#include "TcpServer.h"
#include "ThreadPool.h"
#include "noncopyable.h"

namespace {

const char kUsage[] =
    "usage: server [--host ADDR] [--port N] [--work-ms MS] [--workers N] [--queue N]\n"
    "  --host ADDR    IPv4 address to listen on (default 127.0.0.1)\n"
    "  --port N       port to listen on, 0 lets the kernel choose (default 9877)\n"
    "  --work-ms MS   work on each message for MS milliseconds before echoing it (default 0)\n"
    "  --workers N    threads doing that work; 0: none, the loop does it (default 4)\n"
    "  --queue N      at most N tasks wait for a worker (default 64)\n";

// How much echo may wait for a slow reader, and how much input may wait for its connection's task
// to finish, before we stop reading from that client.
constexpr size_t kHighWaterMark = 1024 * 1024;
constexpr size_t kMaxWaitingInput = 1024 * 1024;

// Runs every connection's messages through the pool, one task at a time per connection, and sends
// the replies. Everything here but the tasks runs in the loop thread.
class Dispatcher : noncopyable {
 public:
  Dispatcher(EventLoop* loop, const Options& options)
      : workMs_(options.workMs),
        replies_(loop, [this](Reply&& reply) { onReply(std::move(reply)); }),
        pool_(static_cast<size_t>(options.workers), static_cast<size_t>(options.queue)) {}

  void onConnection(TcpConnection& conn) {
    if (conn.connected()) {
      works_.emplace(conn.id(), Work{&conn});
    } else {
      works_.erase(conn.id());  // a reply still to come for it finds nothing
    }
  }

  void onMessage(TcpConnection& conn, Buffer* input) {
    Work& work = works_.at(conn.id());
    if (!work.inPool && !work.waitingForQueue) {
      trySubmit(work);
    } else if (input->readableBytes() >= kMaxWaitingInput) {
      work.inputFull = true;  // its task is still running: wait for it before reading more
    }
    update(work);
  }

  void onHighWaterMark(TcpConnection& conn) {
    Work& work = works_.at(conn.id());
    work.outputFull = true;
    update(work);
  }

  void onWriteComplete(TcpConnection& conn) {
    Work& work = works_.at(conn.id());
    work.outputFull = false;
    update(work);
  }

 private:
  struct Work {
    TcpConnection* conn;           // valid while this entry exists: erased when it goes down
    bool inPool = false;           // a task of this connection is queued or running
    bool waitingForQueue = false;  // its next task found the queue full
    bool inputFull = false;        // its input piled up while its task ran
    bool outputFull = false;       // its output is past the high-water mark
  };

  struct Reply {
    uint64_t connId;
    std::string data;
  };

  // Makes the connection's waiting input its next task, if there is room in the queue. Returns
  // false if the queue was full (the connection then waits in waiting_).
  bool trySubmit(Work& work) {
    Buffer* input = work.conn->inputBuffer();
    if (input->readableBytes() == 0) return true;
    const uint64_t id = work.conn->id();
    ResultQueue<Reply>* replies = &replies_;
    const int workMs = workMs_;
    std::string data(input->peek(), input->readableBytes());
    const bool queued = pool_.tryRun([replies, id, workMs, data = std::move(data)]() mutable {
      // A worker thread: it may touch nothing of the loop's but the queue.
      if (workMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(workMs));
      replies->push(Reply{id, std::move(data)});
    });
    if (queued) {
      input->retrieveAll();
      work.inPool = true;
      work.inputFull = false;
      work.waitingForQueue = false;
    } else if (!work.waitingForQueue) {
      work.waitingForQueue = true;
      waiting_.push_back(id);
    }
    return queued;
  }

  void onReply(Reply&& reply) {
    auto found = works_.find(reply.connId);
    if (found != works_.end()) {  // else it closed while its work ran
      found->second.inPool = false;
      found->second.conn->send(reply.data);
    }
    retryWaiting();  // a worker is free: the connections already in line go first
    // send() or a retry may have closed the connection (the kernel refusing to watch it): look
    // again.
    found = works_.find(reply.connId);
    if (found != works_.end()) {
      trySubmit(found->second);  // what arrived while the work ran, behind the line if full
      update(found->second);     // last: it may close the connection
    }
  }

  // The connections whose task found the queue full, oldest first, until it is full again.
  void retryWaiting() {
    while (!waiting_.empty()) {
      auto found = works_.find(waiting_.front());
      waiting_.pop_front();
      if (found != works_.end() && found->second.waitingForQueue) {
        if (!trySubmit(found->second)) {
          waiting_.push_front(found->first);  // still first in line
          return;
        }
        update(found->second);
      }
    }
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
  std::unordered_map<uint64_t, Work> works_;
  std::deque<uint64_t> waiting_;  // ids of connections whose task found the queue full
  // In this order: the pool's workers are joined before the queue they push to is destroyed.
  ResultQueue<Reply> replies_;
  ThreadPool pool_;
};

// --workers 0: no pool. The loop works on each message itself and echoes it, as lesson 10 did (so
// --work-ms stalls every client again); what is left to compare with the pool is the cost of its
// hand-offs. The output's high-water mark stops reading until it has drained.
void echoInLoop(TcpServer& server, int workMs) {
  server.setMessageCallback([workMs](TcpConnection& conn, Buffer* input) {
    if (workMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(workMs));
    conn.send(input);
  });
  server.setHighWaterMarkCallback([](TcpConnection& conn, size_t) { conn.stopRead(); },
                                  kHighWaterMark);
  server.setWriteCompleteCallback([](TcpConnection& conn) { conn.startRead(); });
}

}  // namespace

int main(int argc, char* argv[]) {
  const Options options = parseCommandLine(argc, argv, kUsage);

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
    int clients = 0;
    std::optional<Dispatcher> dispatcher;  // none with --workers 0
    if (options.workers > 0) dispatcher.emplace(&loop, options);
    TcpServer server(&loop, InetAddress(options.port, options.host));
    server.setConnectionCallback([&clients, &dispatcher](TcpConnection& conn) {
      clients += conn.connected() ? 1 : -1;
      std::printf("%s %s (%d clients)\n", conn.connected() ? "accepted" : "closed",
                  conn.peerAddress().toIpPort().c_str(), clients);
      if (dispatcher) dispatcher->onConnection(conn);
    });
    if (dispatcher) {
      server.setMessageCallback([&dispatcher](TcpConnection& conn, Buffer* input) {
        dispatcher->onMessage(conn, input);
      });
      server.setHighWaterMarkCallback(
          [&dispatcher](TcpConnection& conn, size_t) { dispatcher->onHighWaterMark(conn); },
          kHighWaterMark);
      server.setWriteCompleteCallback(
          [&dispatcher](TcpConnection& conn) { dispatcher->onWriteComplete(conn); });
    } else {
      echoInLoop(server, options.workMs);
    }
    server.start();
    std::printf("%d workers, %d ms of work per message, at most %d tasks waiting\n",
                options.workers, options.workMs, options.queue);
    std::printf("listening on %s\n", server.listenAddress().toIpPort().c_str());
    loop.loop();
    return 0;  // ~TcpServer closes every connection, ~Dispatcher stops the workers
  } catch (const std::system_error& e) {
    // Setup failed (bind: address in use, ...) or the poller broke: nothing to serve with.
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
