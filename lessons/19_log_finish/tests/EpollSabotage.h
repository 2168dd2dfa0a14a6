#pragma once

// Makes the kernel refuse every epoll_ctl of the process's one epoll instance (an EventLoop's), to
// test what an object does with a refusal it cannot provoke on demand (ENOMEM, or ENOSPC past
// /proc/sys/fs/epoll/max_user_watches). While an EpollSabotage is alive, the epoll fd number refers
// to /dev/null, and epoll_ctl on it fails with EINVAL; its destructor puts the epoll instance back,
// with everything registered in it. Do not run the loop meanwhile: epoll_wait fails too.

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <string>

#include "Catch.h"
#include "noncopyable.h"

class EpollSabotage : noncopyable {
 public:
  EpollSabotage() : epollFd_(theOnlyEpollFd()), saved_(::dup(epollFd_)) {
    REQUIRE(saved_ >= 0);
    const int devNull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(devNull >= 0);
    REQUIRE(::dup2(devNull, epollFd_) == epollFd_);
    ::close(devNull);
  }
  ~EpollSabotage() {
    ::dup3(saved_, epollFd_, O_CLOEXEC);
    ::close(saved_);
  }

 private:
  // The fd whose /proc/self/fd link says it is an epoll instance; the test must hold exactly one.
  static int theOnlyEpollFd() {
    DIR* dir = ::opendir("/proc/self/fd");
    REQUIRE(dir != nullptr);
    int found = -1;
    int count = 0;
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      const std::string path = std::string("/proc/self/fd/") + entry->d_name;
      char target[PATH_MAX];
      const ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
      if (n > 0 && std::string(target, static_cast<size_t>(n)) == "anon_inode:[eventpoll]") {
        found = std::atoi(entry->d_name);
        ++count;
      }
    }
    ::closedir(dir);
    REQUIRE(count == 1);
    return found;
  }

  const int epollFd_;
  const int saved_;
};
