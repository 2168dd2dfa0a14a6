#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <utility>

#include "Allocations.h"
#include "Catch.h"
#include "FileDescriptor.h"
#include "OpenFds.h"
#include "Poller.h"

namespace {

bool isOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

int openDevNull() {
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  return fd;
}

}  // namespace

TEST_CASE("a FileDescriptor closes its fd when it goes") {
  const int fd = openDevNull();
  {
    const FileDescriptor owner(fd);
    CHECK(owner.valid());
    CHECK(owner.get() == fd);
  }
  CHECK_FALSE(isOpen(fd));
}

TEST_CASE("a default or released FileDescriptor owns nothing and closes nothing") {
  CHECK_FALSE(FileDescriptor().valid());
  const int fd = openDevNull();
  {
    FileDescriptor owner(fd);
    CHECK(owner.release() == fd);
    CHECK_FALSE(owner.valid());
  }
  CHECK(isOpen(fd));
  ::close(fd);
}

TEST_CASE("moving a FileDescriptor moves the ownership: the fd is closed once") {
  const int fd = openDevNull();
  FileDescriptor first(fd);
  FileDescriptor second(std::move(first));
  CHECK_FALSE(first.valid());  // NOLINT(bugprone-use-after-move): that is what is tested
  CHECK(second.get() == fd);
  FileDescriptor third;
  third = std::move(second);
  CHECK(third.get() == fd);
  CHECK(isOpen(fd));
  third.reset();
  CHECK_FALSE(isOpen(fd));
}

TEST_CASE("reset closes the fd held and owns the new one") {
  const int a = openDevNull();
  const int b = openDevNull();
  FileDescriptor owner(a);
  owner.reset(b);
  CHECK_FALSE(isOpen(a));
  CHECK(owner.get() == b);
}

TEST_CASE("a Poller whose constructor throws half-way leaks no descriptor") {
  const int before = openFdCount();
  bool threw = false;
  try {
    FailNextAllocation failing;  // epoll_create1 succeeds, then the events array cannot be had
    Poller poller;
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  CHECK(threw);
  CHECK(openFdCount() == before);  // the epoll fd was closed on the way out
}
