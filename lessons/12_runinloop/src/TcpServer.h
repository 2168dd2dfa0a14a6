#pragma once

// A TCP server on an EventLoop: it accepts connections and keeps them, each a TcpConnection that
// reads and sends for itself. What the server *does* (echo, HTTP, ...) lives in the user's
// callbacks, not here.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "Acceptor.h"
#include "Callbacks.h"
#include "InetAddress.h"
#include "Socket.h"
#include "TcpConnection.h"
#include "noncopyable.h"

class EventLoop;

class TcpServer : noncopyable {
 public:
  // Creates and binds the listening socket; throws std::system_error if that fails (port in use).
  TcpServer(EventLoop* loop, const InetAddress& listenAddr);
  // Reports every open connection down and hands it to the loop, which closes it (output still
  // waiting is discarded) in its next round or when it is destroyed itself: whatever the callbacks
  // use must outlive the server, and the loop must outlive it too.
  ~TcpServer();

  void setConnectionCallback(ConnectionCallback cb) { connectionCallback_ = std::move(cb); }
  void setMessageCallback(MessageCallback cb) { messageCallback_ = std::move(cb); }
  void setWriteCompleteCallback(WriteCompleteCallback cb) {
    writeCompleteCallback_ = std::move(cb);
  }
  void setHighWaterMarkCallback(HighWaterMarkCallback cb, size_t highWaterMark) {
    highWaterMarkCallback_ = std::move(cb);
    highWaterMark_ = highWaterMark;
  }

  // Listens and starts accepting, in the loop's next rounds.
  void start();
  // The bound address: with port 0, the port the kernel chose.
  InetAddress listenAddress() const { return acceptor_.listenAddress(); }

 private:
  void newConnection(Socket socket, const InetAddress& peer);
  void removeConnection(TcpConnection& conn);

  EventLoop* loop_;
  Acceptor acceptor_;
  ConnectionCallback connectionCallback_;
  MessageCallback messageCallback_;
  WriteCompleteCallback writeCompleteCallback_;
  HighWaterMarkCallback highWaterMarkCallback_;
  size_t highWaterMark_ = 64 * 1024 * 1024;
  // Keyed by a counter, not the fd: an fd number is reused as soon as it is closed.
  uint64_t nextConnId_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<TcpConnection>> connections_;
};
