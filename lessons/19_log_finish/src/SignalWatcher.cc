#include "SignalWatcher.h"

#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace {

int createSignalFd(std::initializer_list<int> signals) {
  sigset_t mask;
  sigemptyset(&mask);
  for (int signo : signals) sigaddset(&mask, signo);
  // pthread_sigmask, not sigprocmask: the latter's effect in a threaded program is unspecified.
  if (const int error = ::pthread_sigmask(SIG_BLOCK, &mask, nullptr); error != 0) {
    throw std::system_error(error, std::generic_category(), "pthread_sigmask");
  }
  const int fd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
  return fd;
}

}  // namespace

SignalWatcher::SignalWatcher(EventLoop* loop, std::initializer_list<int> signals,
                             SignalCallback callback)
    : fd_(createSignalFd(signals)), channel_(loop, fd_.get()), callback_(std::move(callback)) {
  channel_.setReadCallback([this] { handleRead(); });
  channel_.enableReading();  // if this throws, the members already made are destroyed: fd_ closes
}

std::string SignalWatcher::describe(int signo) {
  switch (signo) {
    case SIGHUP:
      return "Hangup";
    case SIGINT:
      return "Interrupt";
    case SIGQUIT:
      return "Quit";
    case SIGTERM:
      return "Terminated";
    case SIGUSR1:
      return "User defined signal 1";
    case SIGUSR2:
      return "User defined signal 2";
    default:
      return "Signal " + std::to_string(signo);
  }
}

void SignalWatcher::handleRead() {
  // Each read takes one pending signal; level-triggered, the loop calls again while more wait.
  signalfd_siginfo info{};
  if (::read(fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    callback_(static_cast<int>(info.ssi_signo));
  }
}
