#pragma once

// The callbacks a TcpServer user provides: what the library calls when something happens to a
// connection. std::function, so that a lambda, a free function or a bound member all fit.

#include <cstddef>
#include <functional>

class Buffer;
class InetAddress;

// A client connected (connected = true) or its connection ended (false).
using ConnectionCallback = std::function<void(const InetAddress& peer, bool connected)>;

// Bytes arrived from `peer` on socket `fd` and wait in `input`, after any the callback left there
// last time. The callback retrieves what it consumes (e.g. every complete line) and may write its
// answer to `fd`; what it leaves stays for the next call.
using MessageCallback = std::function<void(int fd, const InetAddress& peer, Buffer* input)>;
