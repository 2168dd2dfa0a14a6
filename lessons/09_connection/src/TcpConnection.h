#pragma once

// One TCP connection: it owns the socket, the Channel that watches it and the input buffer, reads
// what arrives and hands it to the message callback, and sends. All the per-connection state that
// lessons 3-8 kept in the server's map, in one object with one job.

#include <cstdint>
#include <string>
#include <string_view>

#include "Buffer.h"
#include "Callbacks.h"
#include "Channel.h"
#include "InetAddress.h"
#include "Socket.h"
#include "noncopyable.h"

class EventLoop;

class TcpConnection : noncopyable {
 public:
  TcpConnection(EventLoop* loop, uint64_t id, Socket socket, const InetAddress& localAddr,
                const InetAddress& peerAddr);
  ~TcpConnection();

  EventLoop* getLoop() const { return loop_; }
  uint64_t id() const { return id_; }
  std::string name() const;  // "peer-ip:port#id", for logs
  const InetAddress& localAddress() const { return localAddr_; }
  const InetAddress& peerAddress() const { return peerAddr_; }
  bool connected() const { return state_ == State::kConnected; }

  // Writes what the socket takes now. What does not fit is dropped and reported: there is no output
  // buffer yet (lesson 10).
  void send(std::string_view data);
  // Sends the readable bytes of `buffer` and retrieves them.
  void send(Buffer* buffer);

  Buffer* inputBuffer() { return &inputBuffer_; }

  void setConnectionCallback(ConnectionCallback cb) { connectionCallback_ = std::move(cb); }
  void setMessageCallback(MessageCallback cb) { messageCallback_ = std::move(cb); }
  void setCloseCallback(CloseCallback cb) { closeCallback_ = std::move(cb); }

  // For TcpServer, once it owns the connection: start reading, report the connection up.
  // Throws std::system_error if the poller refuses the socket.
  void connectEstablished();
  // For TcpServer, when it lets go of a connection that did not close by itself (the server is
  // being destroyed): report the connection down.
  void connectDestroyed();

 private:
  enum class State { kConnecting, kConnected, kDisconnected };

  void handleRead();
  void handleClose();
  void handleError();

  EventLoop* loop_;
  const uint64_t id_;
  State state_ = State::kConnecting;
  // In this order so that the Channel is destroyed, and leaves the poller, before the Socket closes
  // the fd.
  Socket socket_;
  Channel channel_;
  const InetAddress localAddr_;
  const InetAddress peerAddr_;
  Buffer inputBuffer_;
  ConnectionCallback connectionCallback_;
  MessageCallback messageCallback_;
  CloseCallback closeCallback_;
};
