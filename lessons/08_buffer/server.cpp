// The echo server on an EventLoop and a TcpServer.
//
// The loop (wait, dispatch, repeat) is EventLoop's job, and accepting and reading are TcpServer's.
// What is left here is what makes this server an *echo* server: two callbacks. SIGINT and SIGTERM
// end the loop, and the destructors close every socket on the way out: exit code 0.
// The limitation of lessons 3-5 remains: output that does not fit the send buffer is dropped.

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <system_error>

#include "Buffer.h"
#include "EventLoop.h"
#include "InetAddress.h"
#include "Options.h"
#include "SignalWatcher.h"
#include "TcpServer.h"

namespace {

const char kUsage[] =
    "usage: server [--host ADDR] [--port N]\n"
    "  --host ADDR  IPv4 address to listen on (default 127.0.0.1)\n"
    "  --port N     port to listen on, 0 lets the kernel choose (default 9877)\n";

// Writes everything readable straight back.
void echo(int fd, const InetAddress& peer, Buffer* input) {
  const size_t length = input->readableBytes();
  const ssize_t written = ::write(fd, input->peek(), length);
  input->retrieveAll();  // written back, or (below) dropped
  if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    return;  // e.g. EPIPE: the client is gone; the next read reports it and closes
  }
  const size_t sent = written < 0 ? 0 : static_cast<size_t>(written);
  if (sent < length) {
    // The send buffer is full: the client reads slower than it writes. Waiting would stall every
    // other client, and there is nowhere to keep the rest yet: it is lost (lesson 10 keeps it).
    std::fprintf(stderr, "dropped %zu bytes for %s: its send buffer is full\n", length - sent,
                 peer.toIpPort().c_str());
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
    EventLoop loop;
    SignalWatcher signals(&loop, {SIGINT, SIGTERM}, [&loop](int signo) {
      std::printf("%s: shutting down\n", SignalWatcher::describe(signo).c_str());
      loop.quit();
    });
    TcpServer server(&loop, InetAddress(options.port, options.host));
    int clients = 0;
    server.setConnectionCallback([&clients](const InetAddress& peer, bool connected) {
      clients += connected ? 1 : -1;
      std::printf("%s %s (%d clients)\n", connected ? "accepted" : "closed",
                  peer.toIpPort().c_str(), clients);
    });
    server.setMessageCallback(echo);
    server.start();
    std::printf("listening on %s\n", server.listenAddress().toIpPort().c_str());
    loop.loop();
    return 0;  // ~TcpServer closes every connection and the listening socket
  } catch (const std::system_error& e) {
    // Setup failed (bind: address in use, ...) or the poller broke: nothing to serve with.
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
