#pragma once

// The callbacks a TcpServer user provides: what the library calls when something happens to a
// connection. std::function, so that a lambda, a free function or a bound member all fit.

#include <cstddef>
#include <functional>

class InetAddress;

// A client connected (connected = true) or its connection ended (false).
using ConnectionCallback = std::function<void(const InetAddress& peer, bool connected)>;

// `length` bytes arrived from `peer` on socket `fd`; the callback may write its answer to `fd`.
using MessageCallback =
    std::function<void(int fd, const InetAddress& peer, const char* data, size_t length)>;
