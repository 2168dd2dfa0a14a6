#include "TcpServer.h"

#include <cstdio>
#include <system_error>

#include "EventLoop.h"

TcpServer::TcpServer(EventLoop* loop, const InetAddress& listenAddr)
    : loop_(loop), acceptor_(loop, listenAddr) {
  acceptor_.setNewConnectionCallback(
      [this](Socket socket, const InetAddress& peer) { newConnection(std::move(socket), peer); });
}

TcpServer::~TcpServer() {
  // Reported down now, destroyed by the loop like a connection that closes by itself: after any
  // functor the connection queued (a write complete holds its address). The loop runs them in its
  // next round, or destroys them unrun, closing the sockets, when it is destroyed itself.
  for (auto& entry : connections_) {
    entry.second->connectDestroyed();
    std::shared_ptr<TcpConnection> dying = std::move(entry.second);
    loop_->queueInLoop([dying] {});
  }
}

void TcpServer::start() { acceptor_.listen(); }

void TcpServer::newConnection(Socket socket, const InetAddress& peer) {
  loop_->assertInLoopThread();
  try {
    const InetAddress local = socket.localAddress();
    const uint64_t id = nextConnId_++;
    auto conn = std::make_unique<TcpConnection>(loop_, id, std::move(socket), local, peer);
    conn->setConnectionCallback(connectionCallback_);
    conn->setMessageCallback(messageCallback_);
    conn->setWriteCompleteCallback(writeCompleteCallback_);
    conn->setHighWaterMarkCallback(highWaterMarkCallback_, highWaterMark_);
    conn->setCloseCallback([this](TcpConnection& c) { removeConnection(c); });
    conn->connectEstablished();
    connections_[id] = std::move(conn);
  } catch (const std::system_error& e) {
    // This client cannot be served (e.g. ENOSPC: too many watched fds); the others can. Unwinding
    // destroys the connection, which closes its socket.
    std::fprintf(stderr, "%s\n", e.what());
  }
}

void TcpServer::removeConnection(TcpConnection& conn) {
  loop_->assertInLoopThread();
  auto found = connections_.find(conn.id());
  if (found == connections_.end()) return;  // already removed
  // We are inside one of this connection's handlers, so it must outlive this call: the loop
  // destroys it after the round, when the last owner, this functor, is gone.
  std::shared_ptr<TcpConnection> dying = std::move(found->second);
  connections_.erase(found);
  loop_->queueInLoop([dying] {});
}
