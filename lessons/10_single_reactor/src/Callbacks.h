#pragma once

// The callbacks a TcpServer user provides: what the library calls when something happens to a
// connection. std::function, so that a lambda, a free function or a bound member all fit.

#include <cstddef>
#include <functional>

class Buffer;
class TcpConnection;

// A connection was established or has ended: conn.connected() says which.
using ConnectionCallback = std::function<void(TcpConnection& conn)>;

// Bytes arrived and wait in `input`, after any the callback left there last time. The callback
// retrieves what it consumes (e.g. every complete line) and may answer with conn.send(); what it
// leaves stays for the next call.
using MessageCallback = std::function<void(TcpConnection& conn, Buffer* input)>;

// The output buffer, which had filled, has been written out completely: it is empty again.
using WriteCompleteCallback = std::function<void(TcpConnection& conn)>;

// The output buffer has grown past the high-water mark (to `pending` bytes): the peer reads slower
// than we send. The usual answer is back-pressure: conn.stopRead() until the write completes.
using HighWaterMarkCallback = std::function<void(TcpConnection& conn, size_t pending)>;

// For TcpServer: the connection has closed and can be removed.
using CloseCallback = std::function<void(TcpConnection& conn)>;
