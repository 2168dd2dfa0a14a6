#include "Poller.h"

#include <cerrno>
#include <string>
#include <system_error>

namespace {

constexpr size_t kInitialEvents = 16;

const char* operationName(int operation) {
  switch (operation) {
    case EPOLL_CTL_ADD:
      return "epoll_ctl(ADD)";
    case EPOLL_CTL_MOD:
      return "epoll_ctl(MOD)";
    default:
      return "epoll_ctl(DEL)";
  }
}

int createEpoll() {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  return fd;
}

}  // namespace

// If allocating events_ throws, epollFd_, already constructed, closes the epoll fd.
Poller::Poller() : epollFd_(createEpoll()), events_(kInitialEvents) {}

void Poller::add(int fd, uint32_t events) { control(EPOLL_CTL_ADD, fd, events); }
void Poller::modify(int fd, uint32_t events) { control(EPOLL_CTL_MOD, fd, events); }
void Poller::remove(int fd) { control(EPOLL_CTL_DEL, fd, 0); }

void Poller::control(int operation, int fd, uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  if (::epoll_ctl(epollFd_.get(), operation, fd, &event) < 0) {
    throw std::system_error(errno, std::generic_category(),
                            std::string(operationName(operation)) + " fd " + std::to_string(fd));
  }
}

void Poller::poll(int timeoutMs, std::vector<epoll_event>* active) {
  active->clear();
  const int ready =
      ::epoll_wait(epollFd_.get(), events_.data(), static_cast<int>(events_.size()), timeoutMs);
  if (ready < 0) {
    if (errno == EINTR) return;
    throw std::system_error(errno, std::generic_category(), "epoll_wait");
  }
  active->assign(events_.begin(), events_.begin() + ready);
  // A full array means more may have been ready; a bigger one takes them in one call next time.
  if (static_cast<size_t>(ready) == events_.size()) events_.resize(events_.size() * 2);
}
