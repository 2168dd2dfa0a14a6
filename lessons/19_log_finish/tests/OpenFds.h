#pragma once

#include <dirent.h>

#include "Catch.h"

// How many file descriptors this process has open: the entries of /proc/self/fd. A leak test
// compares the count before and after. (opendir's own fd is counted both times.)
inline int openFdCount() {
  DIR* dir = ::opendir("/proc/self/fd");
  REQUIRE(dir != nullptr);
  int count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count;
}
