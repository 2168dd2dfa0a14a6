#pragma once

// Base class for objects with an identity: a socket, a poller, later an event loop or a connection.
// Copying one would mean two owners closing the same file descriptor.
class noncopyable {
 public:
  noncopyable(const noncopyable&) = delete;
  noncopyable& operator=(const noncopyable&) = delete;

 protected:
  noncopyable() = default;
  ~noncopyable() = default;
};
