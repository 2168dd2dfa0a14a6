#include "TcpServer.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <system_error>

#include "ErrnoText.h"
#include "EventLoop.h"

// One connected client. Members in this order so that the Channel is destroyed, and leaves the
// poller, before the Socket closes the fd.
struct TcpServer::Client {
  Client(EventLoop* loop, Socket s, const InetAddress& p)
      : socket(std::move(s)), peer(p), channel(loop, socket.fd()) {}
  Socket socket;
  InetAddress peer;
  Channel channel;
};

namespace {

Socket bound(const InetAddress& listenAddr) {
  Socket socket = Socket::createNonBlocking();
  socket.setReuseAddr(true);
  socket.bindAddress(listenAddr);
  return socket;
}

void warn(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), errnoText(errno).c_str());
}

}  // namespace

TcpServer::TcpServer(EventLoop* loop, const InetAddress& listenAddr)
    : loop_(loop), listener_(bound(listenAddr)), acceptChannel_(loop, listener_.fd()) {
  acceptChannel_.setReadCallback([this] { acceptAll(); });
}

TcpServer::~TcpServer() = default;

void TcpServer::start() {
  listener_.listen();
  acceptChannel_.enableReading();
}

// Takes every connection waiting in the accept queue.
void TcpServer::acceptAll() {
  for (;;) {
    InetAddress peer;
    Socket socket = listener_.accept(&peer);
    if (!socket.valid()) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // the queue is empty
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // Out of file descriptors, for instance: report it and come back at the next wake-up.
      warn("accept");
      return;
    }
    const int fd = socket.fd();
    auto client = std::make_unique<Client>(loop_, std::move(socket), peer);
    Client* raw = client.get();
    raw->channel.setReadCallback([this, raw] { handleRead(raw); });
    // A hang-up while reading is not watched, which no read would report (Channel::handleEvent).
    raw->channel.setCloseCallback([this, raw] { closeClient(raw); });
    try {
      raw->channel.enableReading();
    } catch (const std::system_error& e) {
      // This client cannot be served (e.g. ENOSPC: too many watched fds); the others can.
      std::fprintf(stderr, "%s\n", e.what());
      continue;  // ~Client closes the connection
    }
    clients_[fd] = std::move(client);
    if (connectionCallback_) connectionCallback_(peer, true);
  }
}

void TcpServer::handleRead(Client* client) {
  char buffer[65536];
  const ssize_t n = ::read(client->socket.fd(), buffer, sizeof buffer);
  if (n > 0) {
    if (messageCallback_) {
      messageCallback_(client->socket.fd(), client->peer, buffer, static_cast<size_t>(n));
    }
  } else if (n == 0) {
    closeClient(client);  // the client closed its side (FIN)
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    warn("read from " + client->peer.toIpPort());  // e.g. ECONNRESET
    closeClient(client);
  }
}

// Called from the client's read handler (end of stream, an error) or, were reading not watched,
// its close handler (Channel::handleEvent): the lookup makes a second call harmless.
void TcpServer::closeClient(Client* client) {
  auto found = clients_.find(client->socket.fd());
  if (found == clients_.end()) return;  // closed already
  client->channel.disableAll();
  // We are inside one of this client's handlers, so it must outlive this call: the loop destroys
  // it after the round, when the last owner, this functor, is gone.
  std::shared_ptr<Client> dying = std::move(found->second);
  clients_.erase(found);
  loop_->queueInLoop([dying] {});
  if (connectionCallback_) connectionCallback_(dying->peer, false);
}
