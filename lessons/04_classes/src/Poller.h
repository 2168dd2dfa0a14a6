#pragma once

// Owns an epoll instance: the set of file descriptors we watch and the call that waits for them.
// muduo calls this role the Poller. Here the key of a watched descriptor is the fd itself; lesson 5
// replaces it with a Channel, an object that also knows what to do with the event.

#include <sys/epoll.h>

#include <cstdint>
#include <vector>

#include "FileDescriptor.h"
#include "noncopyable.h"

class Poller : noncopyable {
 public:
  Poller();  // throws std::system_error if epoll_create1 fails

  // `events` is an EPOLLIN/EPOLLOUT/... mask. Level-triggered: see the lesson text for why.
  // Each throws std::system_error naming the call if the kernel refuses.
  void add(int fd, uint32_t events);
  void modify(int fd, uint32_t events);
  void remove(int fd);

  // Waits up to timeoutMs (-1: no limit) and replaces *active with the events that are ready.
  // An interrupted wait (EINTR) returns with none.
  void poll(int timeoutMs, std::vector<epoll_event>* active);

 private:
  void control(int operation, int fd, uint32_t events);

  FileDescriptor epollFd_;
  std::vector<epoll_event> events_;  // epoll_wait's output; grows when a wait fills it
};
