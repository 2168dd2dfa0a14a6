#pragma once

// One TCP connection: it owns the socket, the Channel that watches it and its two buffers, reads
// what arrives and hands it to the message callback, and sends without ever blocking the loop:
// what the socket does not take now waits in the output buffer, and the Channel watches EPOLLOUT
// only for as long as something waits there.
//
// Always owned by a shared_ptr (TcpConnectionPtr, made with std::make_shared): the server holds one
// while the connection is open, and whatever needs it to outlive a call holds another. Work handed
// to its loop from another thread captures shared_from_this(), never `this`.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "Buffer.h"
#include "Callbacks.h"
#include "Channel.h"
#include "InetAddress.h"
#include "Socket.h"
#include "Timestamp.h"
#include "noncopyable.h"

class EventLoop;

class TcpConnection : noncopyable, public std::enable_shared_from_this<TcpConnection> {
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

  // Writes what the socket takes now and keeps the rest in the output buffer, to be written when
  // the socket is writable again. Nothing is lost and the loop never waits.
  //
  // send() and shutdown() may be called from any thread: from another one, the bytes are copied
  // and the loop does the work in its own thread. The calls of one thread keep their order; a call
  // made in the loop's thread runs at once, ahead of what other threads have queued. The queued
  // work holds a reference (shared_from_this()): the connection exists until it has run. A caller
  // on another thread holds a TcpConnectionPtr, or locks a weak_ptr and skips the call if it fails.
  void send(std::string_view data);
  // Sends the readable bytes of `buffer` and retrieves them.
  void send(Buffer* buffer);
  // Half-closes once everything sent so far has been written: the peer reads end of stream, and we
  // can still receive until it closes too.
  void shutdown();
  // Closes now, in the loop's next round, whatever waits to be written (it is discarded) and
  // whatever the peer does: for a peer that will not close by itself (idle, dead, misbehaving).
  // Never at once, even in the loop's thread: the caller may be one of this connection's own
  // callbacks, which must not see it closed under them. From any thread.
  void forceClose();
  // The rest only in the loop's thread (they abort elsewhere), like the callbacks.
  //
  // Back-pressure: stop (and resume) reading from the peer. The kernel's buffers then fill, and TCP
  // flow control slows the peer down. With no output waiting either, the connection then watches
  // nothing, and a reset or hang-up is noticed only after startRead().
  void stopRead();
  void startRead();
  // After the peer's end of stream the connection closes once its output is written; it cannot
  // know of output still being made elsewhere, such as a worker's reply. While held, the peer's end
  // of stream does not close it; holdClose(false) lets go, and closes it at once if the peer has
  // gone and nothing waits to be written.
  void holdClose(bool hold);

  // Whether holdClose(true) holds the connection open, and when the socket last took bytes from
  // it (Timestamp() if never): what tells a busy connection from an idle one (TimingWheel).
  bool closeHeld() const { return closeHeld_; }
  Timestamp lastWrite() const { return lastWrite_; }

  Buffer* inputBuffer() { return &inputBuffer_; }
  Buffer* outputBuffer() { return &outputBuffer_; }

  void setConnectionCallback(ConnectionCallback cb) { connectionCallback_ = std::move(cb); }
  void setMessageCallback(MessageCallback cb) { messageCallback_ = std::move(cb); }
  void setWriteCompleteCallback(WriteCompleteCallback cb) {
    writeCompleteCallback_ = std::move(cb);
  }
  void setHighWaterMarkCallback(HighWaterMarkCallback cb, size_t highWaterMark) {
    highWaterMarkCallback_ = std::move(cb);
    highWaterMark_ = highWaterMark;
  }
  void setCloseCallback(CloseCallback cb) { closeCallback_ = std::move(cb); }

  // For TcpServer, once it owns the connection: start reading, report the connection up.
  // Throws std::system_error if the poller refuses the socket.
  void connectEstablished();
  // For TcpServer, when it lets go of a connection that did not close by itself (the server is
  // being destroyed): report the connection down.
  void connectDestroyed();

 private:
  // kDisconnecting: shutdown() was called; the write side closes once the output buffer is empty.
  enum class State { kConnecting, kConnected, kDisconnecting, kDisconnected };

  void sendInLoop(std::string_view data);
  void shutdownInLoop();
  void forceCloseInLoop();
  void handleRead();
  void handleWrite();
  void handleClose();
  void handleError();
  void queueWriteComplete();
  bool changeEvents(void (Channel::*change)());

  EventLoop* loop_;
  const uint64_t id_;
  // Atomic: connected() may be asked from any thread; only the loop thread changes it.
  std::atomic<State> state_{State::kConnecting};
  bool peerClosed_ = false;  // the peer sent FIN; we close once our output is written
  bool closeHeld_ = false;   // ... and once the user lets go (holdClose)
  Timestamp lastWrite_;
  // In this order so that the Channel is destroyed, and leaves the poller, before the Socket closes
  // the fd.
  Socket socket_;
  Channel channel_;
  const InetAddress localAddr_;
  const InetAddress peerAddr_;
  Buffer inputBuffer_;
  Buffer outputBuffer_;
  size_t highWaterMark_ = 64 * 1024 * 1024;
  ConnectionCallback connectionCallback_;
  MessageCallback messageCallback_;
  WriteCompleteCallback writeCompleteCallback_;
  HighWaterMarkCallback highWaterMarkCallback_;
  CloseCallback closeCallback_;
};
