#pragma once

// A TCP server on an EventLoop: it accepts connections and keeps them, each a TcpConnection that
// reads and sends for itself. What the server *does* (echo, HTTP, ...) lives in the user's
// callbacks, not here.
//
// With setThreadNum(N), N > 0, the server's loop only accepts (the main Reactor) and hands each new
// connection to one of N I/O loops, each in a thread of its own (the sub-Reactors), in turn. A
// connection then lives, is read, written and destroyed in its I/O loop, and its callbacks run in
// that loop's thread. The server's map of connections belongs to its own loop: a connection that
// closes goes there to leave the map, and comes back to its I/O loop to be released.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "Acceptor.h"
#include "Callbacks.h"
#include "EventLoopThreadPool.h"
#include "InetAddress.h"
#include "Socket.h"
#include "TcpConnection.h"
#include "noncopyable.h"

class EventLoop;

class TcpServer : noncopyable {
 public:
  // Creates and binds the listening socket; throws std::system_error if that fails (port in use).
  TcpServer(EventLoop* loop, const InetAddress& listenAddr);
  // In the loop's thread, once the loop has stopped. Reports every open connection down and lets go
  // of it in its loop: a connection of the server's loop now, one of an I/O loop there, before that
  // loop's thread ends. The last reference closes it (output still waiting is discarded). Whatever
  // the callbacks use must outlive the server, and the server's loop must outlive it too.
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

  // How many I/O threads to start besides the loop's own (muduo's setThreadNum); 0, the default,
  // keeps every connection on the server's loop. Before start().
  void setThreadNum(int numThreads);
  // Starts the I/O threads, listens, and starts accepting, in the loop's next rounds. In the loop's
  // thread, once.
  void start();
  // The loops connections are given to, once started (for a server that keeps state per loop).
  std::vector<EventLoop*> ioLoops() const { return threadPool_->getAllLoops(); }
  // The bound address: with port 0, the port the kernel chose.
  InetAddress listenAddress() const { return acceptor_.listenAddress(); }

 private:
  void newConnection(Socket socket, const InetAddress& peer);
  void establish(const TcpConnectionPtr& conn);
  void removeConnection(const TcpConnectionPtr& conn);
  void removeConnectionInLoop(uint64_t id);

  EventLoop* loop_;
  Acceptor acceptor_;
  std::unique_ptr<EventLoopThreadPool> threadPool_;
  ConnectionCallback connectionCallback_;
  MessageCallback messageCallback_;
  WriteCompleteCallback writeCompleteCallback_;
  HighWaterMarkCallback highWaterMarkCallback_;
  size_t highWaterMark_ = 64 * 1024 * 1024;
  // Keyed by a counter, not the fd: an fd number is reused as soon as it is closed.
  uint64_t nextConnId_ = 1;
  std::unordered_map<uint64_t, TcpConnectionPtr> connections_;  // one reference each
};
