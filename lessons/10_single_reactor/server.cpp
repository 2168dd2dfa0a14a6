// The echo server on an EventLoop and a TcpServer.
//
// The loop (wait, dispatch, repeat) is EventLoop's job, accepting is TcpServer's, and reading and
// sending are each TcpConnection's. What is left here is what makes this server an *echo* server:
// its callbacks. SIGINT and SIGTERM end the loop, and the destructors close every socket on the way
// out: exit code 0.
//
// Back-pressure: a client that sends faster than it reads fills its connection's output buffer.
// Past the high-water mark the server stops reading from that client, so that its memory stays
// bounded, and resumes once the output has been written.

#include <chrono>
#include <csignal>
#include <cstdio>
#include <system_error>
#include <thread>

#include "Buffer.h"
#include "EventLoop.h"
#include "InetAddress.h"
#include "Options.h"
#include "SignalWatcher.h"
#include "TcpConnection.h"
#include "TcpServer.h"

namespace {

const char kUsage[] =
    "usage: server [--host ADDR] [--port N] [--work-ms MS]\n"
    "  --host ADDR    IPv4 address to listen on (default 127.0.0.1)\n"
    "  --port N       port to listen on, 0 lets the kernel choose (default 9877)\n"
    "  --work-ms MS   work on each message for MS milliseconds before echoing it (default 0)\n";

// How much echo may wait for a slow reader before we stop reading what it sends.
constexpr size_t kHighWaterMark = 1024 * 1024;

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
    // Echo: send back everything that arrived, after --work-ms of work. The work is a stand-in
    // for a blocking call, such as a database query, and it happens here, in the loop: while it
    // sleeps, no other client is served (lesson 11 moves it to a thread pool).
    server.setMessageCallback([&options](TcpConnection& conn, Buffer* input) {
      if (options.workMs > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(options.workMs));
      }
      conn.send(input);
    });
    server.setHighWaterMarkCallback([](TcpConnection& conn, size_t) { conn.stopRead(); },
                                    kHighWaterMark);
    server.setWriteCompleteCallback([](TcpConnection& conn) { conn.startRead(); });
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
