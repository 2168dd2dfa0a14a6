#pragma once

// Owns an epoll instance: the set of file descriptors we watch and the call that waits for them.
// muduo calls this role the Poller. Each watched fd belongs to a Channel, whose address rides in
// epoll_event.data.ptr: a ready event names the Channel that handles it.

#include <sys/epoll.h>

#include <vector>

#include "FileDescriptor.h"
#include "noncopyable.h"

class Channel;

class Poller : noncopyable {
 public:
  using ChannelList = std::vector<Channel*>;

  Poller();  // throws std::system_error if epoll_create1 fails

  // Makes the epoll set match channel->events(): adds the fd, changes its events, or takes it out
  // when it wants none (epoll would still report hang-ups and errors for it otherwise).
  // Level-triggered: see the lesson text for why. Throws std::system_error if the kernel refuses.
  void updateChannel(Channel* channel);
  void removeChannel(Channel* channel) noexcept;

  // Waits up to timeoutMs (-1: no limit) and replaces *active with the channels that are ready,
  // each with its revents set. An interrupted wait (EINTR) returns with none.
  void poll(int timeoutMs, ChannelList* active);

 private:
  void control(int operation, Channel* channel);

  FileDescriptor epollFd_;
  std::vector<epoll_event> events_;  // epoll_wait's output; grows when a wait fills it
};
