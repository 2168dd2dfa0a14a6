#include "TcpServer.h"

#include <system_error>

#include "EventLoop.h"
#include "Logging.h"

TcpServer::TcpServer(EventLoop* loop, const InetAddress& listenAddr)
    : loop_(loop),
      acceptor_(loop, listenAddr),
      threadPool_(std::make_unique<EventLoopThreadPool>(loop, 0)) {
  acceptor_.setNewConnectionCallback(
      [this](Socket socket, const InetAddress& peer) { newConnection(std::move(socket), peer); });
}

TcpServer::~TcpServer() {
  loop_->assertInLoopThread();
  // Each connection is reported down in its own loop: at once for the server's loop, in a functor
  // for an I/O loop, which the functor holds the server's reference for. A functor queued there
  // earlier (a write complete) holds a reference of its own: whichever lets go last destroys the
  // connection, in that loop's thread. threadPool_, destroyed after this body, quits and joins the
  // I/O loops, which run what was queued before.
  for (auto& entry : connections_) {
    TcpConnectionPtr conn = std::move(entry.second);
    EventLoop* ioLoop = conn->getLoop();
    ioLoop->runInLoop([conn = std::move(conn)] { conn->connectDestroyed(); });
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
    auto conn = std::make_shared<TcpConnection>(ioLoop, id, std::move(socket), local, peer);
    conn->setConnectionCallback(connectionCallback_);
    conn->setMessageCallback(messageCallback_);
    conn->setWriteCompleteCallback(writeCompleteCallback_);
    conn->setHighWaterMarkCallback(highWaterMarkCallback_, highWaterMark_);
    conn->setCloseCallback([this](const TcpConnectionPtr& c) { removeConnection(c); });
    connections_[id] = conn;
    // In its own loop from here on. The functor holds a reference (the map's may go first), moved
    // in: this thread keeps none but the map's.
    ioLoop->runInLoop([this, conn = std::move(conn)] { establish(conn); });
  } catch (const std::system_error& e) {
    // This client cannot be served (getsockname failed); the others can. Unwinding destroys the
    // socket, which closes it.
    LOG_ERROR << e.what();
  }
}

// In the connection's loop.
void TcpServer::establish(const TcpConnectionPtr& conn) {
  try {
    conn->connectEstablished();
  } catch (const std::system_error& e) {
    // This client cannot be served (e.g. ENOSPC: too many watched fds); the others can, and this
    // loop goes on. It leaves the server like a connection that closed.
    LOG_ERROR << conn->name() << ": " << e.what();
    removeConnection(conn);
  }
}

// In the connection's loop, from its close. The map is the server loop's: go there, by id: the
// map's reference keeps the connection until the server's loop takes it out, and a functor that
// never runs (the server's loop has stopped) holds none; ~TcpServer then finds it in the map.
void TcpServer::removeConnection(const TcpConnectionPtr& conn) {
  conn->getLoop()->assertInLoopThread();
  const uint64_t id = conn->id();
  loop_->runInLoop([this, id] { removeConnectionInLoop(id); });
}

void TcpServer::removeConnectionInLoop(uint64_t id) {
  loop_->assertInLoopThread();
  auto found = connections_.find(id);
  if (found == connections_.end()) return;  // already removed
  // Back to the connection's loop to be let go of there: whichever reference is the last (this
  // one, a queued write complete's, a handler's guard) is released in that thread. Moved into the
  // functor: this thread keeps none.
  std::shared_ptr<TcpConnection> dying = std::move(found->second);
  connections_.erase(found);
  EventLoop* ioLoop = dying->getLoop();
  ioLoop->queueInLoop([dying = std::move(dying)] {});
}
