#pragma once

// Makes an allocation fail on purpose, to test what a constructor leaves behind when it throws
// half-way. While a FailNextAllocation is alive, the next operator new in the program throws
// std::bad_alloc; later ones succeed again. (Allocations.cpp replaces the global operator
// new of the test program to do it.)

#include "noncopyable.h"

class FailNextAllocation : noncopyable {
 public:
  FailNextAllocation();
  ~FailNextAllocation();
};
