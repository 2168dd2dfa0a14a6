#include "Poller.h"

#include <cerrno>
#include <string>
#include <system_error>

#include "Channel.h"

namespace {

constexpr size_t kInitialEvents = 16;

int createEpoll() {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  return fd;
}

}  // namespace

// If allocating events_ throws, epollFd_, already constructed, closes the epoll fd.
Poller::Poller() : epollFd_(createEpoll()), events_(kInitialEvents) {}

void Poller::updateChannel(Channel* channel) {
  if (!channel->inPoller()) {
    if (channel->isNoneEvent()) return;
    control(EPOLL_CTL_ADD, channel);
    channel->setInPoller(true);
  } else if (channel->isNoneEvent()) {
    removeChannel(channel);
  } else {
    control(EPOLL_CTL_MOD, channel);
  }
}

void Poller::removeChannel(Channel* channel) noexcept {
  if (!channel->inPoller()) return;
  channel->setInPoller(false);
  // Not checked: DEL fails only if the fd has already left the set (closing it does that), which
  // is what we want. Channel's destructor calls this, and must not throw.
  ::epoll_ctl(epollFd_.get(), EPOLL_CTL_DEL, channel->fd(), nullptr);
}

void Poller::control(int operation, Channel* channel) {
  epoll_event event{};
  event.events = channel->events();
  event.data.ptr = channel;
  if (::epoll_ctl(epollFd_.get(), operation, channel->fd(), &event) < 0) {
    const char* call = operation == EPOLL_CTL_ADD ? "epoll_ctl(ADD)" : "epoll_ctl(MOD)";
    throw std::system_error(errno, std::generic_category(),
                            std::string(call) + " fd " + std::to_string(channel->fd()));
  }
}

void Poller::poll(int timeoutMs, ChannelList* active) {
  active->clear();
  const int ready =
      ::epoll_wait(epollFd_.get(), events_.data(), static_cast<int>(events_.size()), timeoutMs);
  if (ready < 0) {
    if (errno == EINTR) return;
    throw std::system_error(errno, std::generic_category(), "epoll_wait");
  }
  for (int i = 0; i < ready; ++i) {
    auto* channel = static_cast<Channel*>(events_[i].data.ptr);
    channel->setRevents(events_[i].events);
    active->push_back(channel);
  }
  // A full array means more may have been ready; a bigger one takes them in one call next time.
  if (static_cast<size_t>(ready) == events_.size()) events_.resize(events_.size() * 2);
}
