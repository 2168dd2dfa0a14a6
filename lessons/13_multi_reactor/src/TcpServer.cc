#include "TcpServer.h"

#include <cstdio>
#include <system_error>

#include "EventLoop.h"

TcpServer::TcpServer(EventLoop* loop, const InetAddress& listenAddr)
    : loop_(loop),
      acceptor_(loop, listenAddr),
      threadPool_(std::make_unique<EventLoopThreadPool>(loop, 0)) {
  acceptor_.setNewConnectionCallback(
      [this](Socket socket, const InetAddress& peer) { newConnection(std::move(socket), peer); });
}

TcpServer::~TcpServer() {
  loop_->assertInLoopThread();
  // Destroyed by its loop like a connection that closes by itself: by a functor queued after
  // connectDestroyed(), so after any functor it queued there until then (a write complete holds its
  // address), and it queues none once down. The server's loop runs them in its next round, or
  // destroys them unrun, closing the sockets, when it is destroyed itself. An I/O loop may be in
  // the middle of a batch that sends on the connection before connectDestroyed() runs: releasing
  // it at the end of that batch would leave the write complete queued meanwhile a dead address.
  // threadPool_, destroyed after this body, quits and joins the I/O loops.
  for (auto& entry : connections_) {
    std::shared_ptr<TcpConnection> conn = std::move(entry.second);
    EventLoop* ioLoop = conn->getLoop();
    if (ioLoop == loop_) {
      conn->connectDestroyed();
      loop_->queueInLoop([conn] {});
    } else {
      ioLoop->queueInLoop([conn, ioLoop] {
        conn->connectDestroyed();
        ioLoop->queueInLoop([conn] {});  // the last owner: gone after what was queued before it
      });
    }
  }
}

void TcpServer::setThreadNum(int numThreads) {
  threadPool_ = std::make_unique<EventLoopThreadPool>(loop_, numThreads);
}

void TcpServer::start() {
  // Before the first connection can arrive, so that the accepting side never waits for a thread.
  threadPool_->start();
  acceptor_.listen();
}

void TcpServer::newConnection(Socket socket, const InetAddress& peer) {
  loop_->assertInLoopThread();
  EventLoop* ioLoop = threadPool_->getNextLoop();
  try {
    const InetAddress local = socket.localAddress();
    const uint64_t id = nextConnId_++;
    auto conn = std::make_unique<TcpConnection>(ioLoop, id, std::move(socket), local, peer);
    conn->setConnectionCallback(connectionCallback_);
    conn->setMessageCallback(messageCallback_);
    conn->setWriteCompleteCallback(writeCompleteCallback_);
    conn->setHighWaterMarkCallback(highWaterMarkCallback_, highWaterMark_);
    conn->setCloseCallback([this](TcpConnection& c) { removeConnection(c); });
    TcpConnection* raw = conn.get();
    connections_[id] = std::move(conn);
    // In its own loop from here on: the connection exists until that loop destroys it, after this
    // functor, which it runs first (its functors run in the order queued).
    ioLoop->runInLoop([this, raw] { establish(raw); });
  } catch (const std::system_error& e) {
    // This client cannot be served (getsockname failed); the others can. Unwinding destroys the
    // socket, which closes it.
    std::fprintf(stderr, "%s\n", e.what());
  }
}

// In the connection's loop.
void TcpServer::establish(TcpConnection* conn) {
  try {
    conn->connectEstablished();
  } catch (const std::system_error& e) {
    // This client cannot be served (e.g. ENOSPC: too many watched fds); the others can, and this
    // loop goes on. It leaves the server like a connection that closed.
    std::fprintf(stderr, "%s: %s\n", conn->name().c_str(), e.what());
    removeConnection(*conn);
  }
}

// In the connection's loop, from its close. The map is the server loop's: go there.
void TcpServer::removeConnection(TcpConnection& conn) {
  conn.getLoop()->assertInLoopThread();
  const uint64_t id = conn.id();
  loop_->runInLoop([this, id] { removeConnectionInLoop(id); });
}

void TcpServer::removeConnectionInLoop(uint64_t id) {
  loop_->assertInLoopThread();
  auto found = connections_.find(id);
  if (found == connections_.end()) return;  // already removed
  // Back to the connection's loop to be destroyed, after everything it queued there; and after the
  // round in which it closed, whose handlers may still be using it.
  std::shared_ptr<TcpConnection> dying = std::move(found->second);
  connections_.erase(found);
  dying->getLoop()->queueInLoop([dying] {});
}
