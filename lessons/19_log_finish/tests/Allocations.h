#pragma once

// Watching operator new: FailNextAllocation makes an allocation fail on purpose, to test what a
// constructor leaves behind when it throws half-way: while one is alive, the next operator new in
// the program throws std::bad_alloc; later ones succeed again. allocationCount() counts them, to
// test that a path allocates nothing. (Allocations.cpp replaces the global operator new of the
// test program to do it.)

#include "noncopyable.h"

class FailNextAllocation : noncopyable {
 public:
  FailNextAllocation();
  ~FailNextAllocation();
};

// How many times operator new has been called in this program so far (all threads).
long allocationCount();
