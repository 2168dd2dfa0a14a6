// The echo server on an EventLoop and a TcpServer.
//
// The loop (wait, dispatch, repeat) is EventLoop's job, accepting is TcpServer's, and reading and
// sending are each TcpConnection's. What is left here is what makes this server an *echo* server:
// two callbacks. SIGINT and SIGTERM end the loop, and the destructors close every socket on the way
// out: exit code 0. Until lesson 10, output that does not fit the send buffer is dropped.

#include <csignal>
#include <cstdio>
#include <system_error>

#include "Buffer.h"
#include "EventLoop.h"
#include "InetAddress.h"
#include "Options.h"
#include "SignalWatcher.h"
#include "TcpConnection.h"
#include "TcpServer.h"

namespace {

const char kUsage[] =
    "usage: server [--host ADDR] [--port N]\n"
    "  --host ADDR  IPv4 address to listen on (default 127.0.0.1)\n"
    "  --port N     port to listen on, 0 lets the kernel choose (default 9877)\n";

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
    // What the callbacks use is declared before the server: ~TcpServer reports every connection
    // still open as closed, through these callbacks, so it must outlive the server.
    int clients = 0;
    TcpServer server(&loop, InetAddress(options.port, options.host));
    server.setConnectionCallback([&clients](TcpConnection& conn) {
      clients += conn.connected() ? 1 : -1;
      std::printf("%s %s (%d clients)\n", conn.connected() ? "accepted" : "closed",
                  conn.peerAddress().toIpPort().c_str(), clients);
    });
    // Echo: send back everything that arrived.
    server.setMessageCallback([](TcpConnection& conn, Buffer* input) { conn.send(input); });
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
