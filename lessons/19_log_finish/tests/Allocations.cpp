#include "Allocations.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

std::atomic<bool> failNext{false};
std::atomic<long> allocations{0};

void* allocate(std::size_t size) {
  ++allocations;
  if (failNext.exchange(false)) return nullptr;
  return std::malloc(size == 0 ? 1 : size);
}

}  // namespace

FailNextAllocation::FailNextAllocation() { failNext = true; }
FailNextAllocation::~FailNextAllocation() { failNext = false; }

long allocationCount() { return allocations; }

// Every plain form of new and delete is replaced, so that memory is always allocated and freed by
// the same pair (AddressSanitizer checks that). The aligned forms are left to the library.
void* operator new(std::size_t size) {
  if (void* p = allocate(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return allocate(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return allocate(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
