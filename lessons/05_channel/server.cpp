// Lesson 5: the echo server with Channels.
//
// Each socket now has a Channel: the events it wants and the callback that handles them. The poller
// hands back Channels, and the loop just calls handleEvent() on each: it no longer needs to know
// which fd is the listener and which are clients. The behaviour is lesson 4's, including its
// limitation: output that does not fit the socket's send buffer is dropped (lessons 8 and 10).

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "Channel.h"
#include "ErrnoText.h"
#include "InetAddress.h"
#include "Options.h"
#include "Poller.h"
#include "Socket.h"

namespace {

const char kUsage[] =
    "usage: server [--host ADDR] [--port N]\n"
    "  --host ADDR  IPv4 address to listen on (default 127.0.0.1)\n"
    "  --port N     port to listen on, 0 lets the kernel choose (default 9877)\n";

// Members in this order so that the Channel is destroyed, and leaves the poller, before the Socket
// closes the fd.
struct Client {
  Client(Poller* poller, Socket s, const InetAddress& p)
      : socket(std::move(s)), peer(p), channel(poller, socket.fd()) {}
  Socket socket;
  InetAddress peer;
  Channel channel;
};

// The clients by fd, and those whose connection ended during the current round of events. A
// Channel must not be destroyed inside its own callback, so closed clients are kept alive until
// every event of the round is handled.
struct Clients {
  std::unordered_map<int, std::unique_ptr<Client>> byFd;
  std::vector<std::unique_ptr<Client>> closed;
};

void warn(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), errnoText(errno).c_str());
}

// One read, one write. Returns false when the connection is over and must be closed.
bool echoOnce(const Client& client) {
  char buffer[65536];
  const int fd = client.socket.fd();
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n == 0) return false;  // the client closed its side (FIN)
  if (n < 0) {
    // EAGAIN: nothing to read after all; EINTR: a signal came first. Retry at the next wake-up.
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
    warn("read from " + client.peer.toIpPort());  // e.g. ECONNRESET
    return false;
  }
  const ssize_t written = ::write(fd, buffer, static_cast<size_t>(n));
  if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    warn("write to " + client.peer.toIpPort());  // e.g. EPIPE: the client is gone
    return false;
  }
  const ssize_t sent = written < 0 ? 0 : written;
  if (sent < n) {
    // The send buffer is full: the client reads slower than it writes. Waiting would stall every
    // other client, and there is nowhere to keep the rest yet: it is lost (lesson 10 keeps it).
    std::fprintf(stderr, "dropped %zd bytes for %s: its send buffer is full\n", n - sent,
                 client.peer.toIpPort().c_str());
  }
  return true;
}

// Called from the client's read handler (end of stream, an error) or, were reading not watched,
// its close handler (Channel::handleEvent): the lookup makes a second call harmless.
void closeClient(Client* client, Clients* clients) {
  auto found = clients->byFd.find(client->socket.fd());
  if (found == clients->byFd.end()) return;  // closed already
  client->channel.disableAll();
  clients->closed.push_back(std::move(found->second));  // destroyed after this round
  clients->byFd.erase(found);
  std::printf("closed %s (%zu clients)\n", client->peer.toIpPort().c_str(), clients->byFd.size());
}

void onReadable(Client* client, Clients* clients) {
  if (!echoOnce(*client)) closeClient(client, clients);
}

// Takes every connection waiting in the accept queue.
void acceptAll(Poller* poller, Socket* listener, Clients* clients) {
  for (;;) {
    InetAddress peer;
    Socket socket = listener->accept(&peer);
    if (!socket.valid()) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // the queue is empty
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // Out of file descriptors, for instance: report it and come back at the next wake-up.
      warn("accept");
      return;
    }
    const int fd = socket.fd();
    auto client = std::make_unique<Client>(poller, std::move(socket), peer);
    Client* raw = client.get();
    raw->channel.setReadCallback([raw, clients] { onReadable(raw, clients); });
    // A hang-up while reading is not watched, which no read would report (Channel::handleEvent).
    raw->channel.setCloseCallback([raw, clients] { closeClient(raw, clients); });
    try {
      raw->channel.enableReading();
    } catch (const std::system_error& e) {
      // This client cannot be served (e.g. ENOSPC: too many watched fds); the others can.
      std::fprintf(stderr, "%s\n", e.what());
      continue;  // ~Client closes the connection
    }
    clients->byFd[fd] = std::move(client);
    std::printf("accepted %s (%zu clients)\n", peer.toIpPort().c_str(), clients->byFd.size());
  }
}

}  // namespace

int main(int argc, char* argv[]) {
  const Options options = parseCommandLine(argc, argv, kUsage);

  // Writing to a connection the peer has reset raises SIGPIPE, whose default action kills the whole
  // server. Ignored, the write fails with EPIPE instead and we drop just that connection.
  std::signal(SIGPIPE, SIG_IGN);
  // Line-buffered even when stdout is a file or a pipe, so that every line shows up when printed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  try {
    Socket listener = Socket::createNonBlocking();
    listener.setReuseAddr(true);
    listener.bindAddress(InetAddress(options.port, options.host));
    listener.listen();
    Poller poller;
    Clients clients;
    Channel acceptChannel(&poller, listener.fd());
    acceptChannel.setReadCallback([&] { acceptAll(&poller, &listener, &clients); });
    acceptChannel.enableReading();
    std::printf("listening on %s\n", listener.localAddress().toIpPort().c_str());

    Poller::ChannelList active;
    for (;;) {
      poller.poll(-1, &active);
      for (Channel* channel : active) channel->handleEvent();
      clients.closed.clear();  // ~Client: ~Channel leaves the poller, then ~Socket closes the fd
    }
  } catch (const std::system_error& e) {
    // Setup failed (bind: address in use, ...) or the poller broke: nothing to serve with.
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
