// Lesson 4: the lesson-3 server, with its resources in RAII classes.
//
// Socket owns a descriptor and closes it, InetAddress hides sockaddr_in and byte order, Poller owns
// the epoll instance. main() keeps only the loop's logic. The behaviour is lesson 3's, including
// its limitation: output that does not fit the socket's send buffer is dropped (lessons 8 and 10).

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

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

struct Client {
  Socket socket;
  InetAddress peer;
};

void warn(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), errnoText(errno).c_str());
}

// Takes every connection waiting in the accept queue.
void acceptAll(Poller* poller, Socket* listener, std::unordered_map<int, Client>* clients) {
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
    try {
      poller->add(fd, EPOLLIN);
    } catch (const std::system_error& e) {
      // This client cannot be served (e.g. ENOSPC: too many watched fds); the others can.
      std::fprintf(stderr, "%s\n", e.what());
      continue;  // ~Socket closes the connection
    }
    clients->emplace(fd, Client{std::move(socket), peer});
    std::printf("accepted %s (%zu clients)\n", peer.toIpPort().c_str(), clients->size());
  }
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
    poller.add(listener.fd(), EPOLLIN);
    std::printf("listening on %s\n", listener.localAddress().toIpPort().c_str());

    std::unordered_map<int, Client> clients;  // connected socket's fd -> its socket and peer
    std::vector<epoll_event> active;
    for (;;) {
      poller.poll(-1, &active);
      for (const epoll_event& event : active) {
        const int fd = event.data.fd;
        if (fd == listener.fd()) {
          acceptAll(&poller, &listener, &clients);
          continue;
        }
        const Client& client = clients.at(fd);
        // EPOLLHUP and EPOLLERR need no branch: the read returns what is left, then 0 or the error.
        if (!echoOnce(client)) {
          std::printf("closed %s (%zu clients)\n", client.peer.toIpPort().c_str(),
                      clients.size() - 1);
          poller.remove(fd);
          clients.erase(fd);  // ~Socket closes the descriptor
        }
      }
    }
  } catch (const std::system_error& e) {
    // Setup failed (bind: address in use, ...) or the poller broke: nothing to serve with.
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
