#pragma once

// Owns the listening socket: accepts connections and hands each one, as a Socket, to the
// NewConnectionCallback. Also survives fd exhaustion: when accept fails with EMFILE the pending
// connection stays in the queue, the level-triggered listening socket stays readable, and a naive
// loop spins at 100% CPU. Acceptor keeps one spare fd to free in that case, so that it can take the
// connection and close it at once: the client is told (it sees the connection close) and the queue
// drains.

#include <functional>

#include "Channel.h"
#include "FileDescriptor.h"
#include "InetAddress.h"
#include "Socket.h"
#include "noncopyable.h"

class EventLoop;

class Acceptor : noncopyable {
 public:
  using NewConnectionCallback = std::function<void(Socket socket, const InetAddress& peer)>;

  // Creates and binds the listening socket; throws std::system_error if that fails (port in use).
  Acceptor(EventLoop* loop, const InetAddress& listenAddr);

  void setNewConnectionCallback(NewConnectionCallback cb) {
    newConnectionCallback_ = std::move(cb);
  }
  // Listens and starts accepting, in the loop's next rounds.
  void listen();
  InetAddress listenAddress() const { return socket_.localAddress(); }

 private:
  void handleRead();
  bool shedOneConnection();

  Socket socket_;
  Channel channel_;
  NewConnectionCallback newConnectionCallback_;
  FileDescriptor idleFd_;  // the spare fd, on /dev/null; none if it could not be reopened
};
