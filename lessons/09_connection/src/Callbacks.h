#pragma once

// The callbacks a TcpServer user provides: what the library calls when something happens to a
// connection. std::function, so that a lambda, a free function or a bound member all fit.

#include <functional>

class Buffer;
class TcpConnection;

// A connection was established or has ended: conn.connected() says which.
using ConnectionCallback = std::function<void(TcpConnection& conn)>;

// Bytes arrived and wait in `input`, after any the callback left there last time. The callback
// retrieves what it consumes (e.g. every complete line) and may answer with conn.send(); what it
// leaves stays for the next call.
using MessageCallback = std::function<void(TcpConnection& conn, Buffer* input)>;

// For TcpServer: the connection has closed and can be removed.
using CloseCallback = std::function<void(TcpConnection& conn)>;
