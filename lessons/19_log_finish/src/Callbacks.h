#pragma once

// The callbacks a TcpServer user provides: what the library calls when something happens to a
// connection, or when a timer is due. std::function, so that a lambda, a free function or a bound
// member all fit.

#include <cstddef>
#include <functional>
#include <memory>

class Buffer;
class TcpConnection;

// A connection is shared: the server holds it while it is open, and so does whatever needs it to
// outlive a call (a functor queued to its loop, a handler that is running). It is destroyed when
// the last of them lets go; the library lets go of its references in the connection's loop thread
// (see TcpServer.cc). A callback that keeps the pointer keeps the connection, and another thread
// that holds the last reference destroys it there: keep a std::weak_ptr instead, to ask later
// whether it still exists without holding it.
using TcpConnectionPtr = std::shared_ptr<TcpConnection>;

// A connection was established or has ended: conn->connected() says which.
using ConnectionCallback = std::function<void(const TcpConnectionPtr& conn)>;

// Bytes arrived and wait in `input`, after any the callback left there last time. The callback
// retrieves what it consumes (e.g. every complete line) and may answer with conn->send(); what it
// leaves stays for the next call.
using MessageCallback = std::function<void(const TcpConnectionPtr& conn, Buffer* input)>;

// Everything sent so far has been written to the socket: after a send() that the socket took whole
// (called after the current round's handlers, not from inside send()), or once an output buffer
// that had filled has drained. A sender of a large stream sends its next piece here.
using WriteCompleteCallback = std::function<void(const TcpConnectionPtr& conn)>;

// The output buffer has grown past the high-water mark (to `pending` bytes): the peer reads slower
// than we send. The usual answer is back-pressure: conn->stopRead() until the write completes.
using HighWaterMarkCallback = std::function<void(const TcpConnectionPtr& conn, size_t pending)>;

// For TcpServer: the connection has closed and can be removed.
using CloseCallback = std::function<void(const TcpConnectionPtr& conn)>;

// A timer is due. It runs in the loop's thread, like every other callback.
using TimerCallback = std::function<void()>;
