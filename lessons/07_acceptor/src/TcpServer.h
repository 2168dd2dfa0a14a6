#pragma once

// A TCP server on an EventLoop: it accepts connections, reads what clients send and hands it to the
// user's callbacks. What the server *does* (echo, HTTP, ...) lives in those callbacks, not here.

#include <memory>
#include <unordered_map>

#include "Acceptor.h"
#include "Callbacks.h"
#include "InetAddress.h"
#include "Socket.h"
#include "noncopyable.h"

class EventLoop;

class TcpServer : noncopyable {
 public:
  // Creates and binds the listening socket; throws std::system_error if that fails (port in use).
  TcpServer(EventLoop* loop, const InetAddress& listenAddr);
  ~TcpServer();

  void setConnectionCallback(ConnectionCallback cb) { connectionCallback_ = std::move(cb); }
  void setMessageCallback(MessageCallback cb) { messageCallback_ = std::move(cb); }

  // Listens and starts accepting, in the loop's next rounds.
  void start();
  // The bound address: with port 0, the port the kernel chose.
  InetAddress listenAddress() const { return acceptor_.listenAddress(); }

 private:
  struct Client;

  void newConnection(Socket socket, const InetAddress& peer);
  void handleRead(Client* client);
  void closeClient(Client* client);

  EventLoop* loop_;
  Acceptor acceptor_;
  ConnectionCallback connectionCallback_;
  MessageCallback messageCallback_;
  std::unordered_map<int, std::unique_ptr<Client>> clients_;  // by fd
};
