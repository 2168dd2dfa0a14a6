// Timers: what scheduling, cancelling and firing a timer costs with N timers pending, and how much
// memory each pending timer holds, for one lesson's TimerQueue (a std::map ordered by due time,
// an unordered_map index, one timerfd) or, in the same program, for the simplest alternative: a
// binary heap with lazy cancellation (HeapTimers below).
//
// Everything runs in the main thread, which owns the EventLoop, so TimerQueue::addTimer and cancel
// run inline (no queueInLoop hop). The TimerQueue measured is one the program makes on that loop,
// as the lesson's tests do: the class behind EventLoop::runAt/runAfter/cancel, whose size() lets
// the program check what it holds. One structure, N timers, one scenario (--scenario, below), in a
// fresh process, in this order:
//
//   first schedule  N timers added at due times before the program started (all due, none run
//             yet: the loop is not running). The time per add, on memory the
//             process has never touched: it includes the page faults, as a fresh server's first
//             timers would. Memory is read before and after: bytes asked of operator new and not
//             given back (the replaced operator new below counts them), operator new calls, and
//             VmRSS growth, per timer.
//   fire      for the TimerQueue, loop() runs until the last callback has quit() it: one round, in
//             which the timerfd wakes epoll_wait and handleRead takes all N out of the map and
//             runs them; for the heap, one popExpired(now). The time per timer fired.
//   schedule  a fresh structure; N timers added at due times 1000 s or more ahead (none fires).
//             The time per add, as the structure grows from 0 to N pending.
//   cancel    half of those (N/2) cancelled; the time per cancel.
//
// The scenario says which due times, and which timers are cancelled:
//
//   random       due times drawn at random: in the second before the program started for the
//                first schedule, 1000-2000 s ahead for the schedule; N/2 timers cancelled, picked
//                at random, in random order. Each add lands anywhere in the structure.
//   fixed-delay  each timer due 1 us after the one added before it (from 1 s plus N us before
//                the program started for the first schedule, from 1000 s ahead for the schedule):
//                due times that grow in the order the timers are added, as a server's
//                runAfter(timeout) per request or per connection makes them. The oldest N/2 are
//                cancelled, oldest first: a request's timeout, cancelled when its reply is sent,
//                replies going out in the order the requests came. Each add goes after every
//                other timer (the TimerQueue's emplace_hint(end()) takes its hint; the heap's
//                push_heap does not move the entry), and each cancel takes the earliest timer (the
//                heap pops it there and then: its cancel is no longer a mere mark).
//
// Before the fire, malloc is told to keep what is freed, and is handed resident memory (see
// keepFreedMemory), so that the fire, the schedule and the cancel run on memory touched before.
// Here a page fault on fresh memory costs microseconds, and the first schedule shows what that
// adds. The times are the main thread's CPU time (CLOCK_THREAD_CPUTIME_ID, system time and page
// faults included), so that the time it waited for a core held by other work on the machine is
// left out; the wall-clock times are printed as well.
//
// The heap gets no timerfd and no poll: its fire is a plain function call, and it never makes a
// system call to re-arm a timerfd when a new earliest timer arrives. That only favours it. Its
// cancel marks the timer (O(1)); the entry stays in the heap, holding its memory, until it comes
// due or reaches the top: the cost is paid later, and in memory. Only a cancel of the timer on top
// (every cancel of the fixed-delay scenario) pops it, and what is marked below it, there and then.
//
// Both use the lesson's TimerCallback (std::function<void()>) holding a lambda that captures one
// pointer, stored inside the std::function (no allocation of its own), so that the comparison is
// about the containers. The counting operator new adds a thread-local increment or two to every
// allocation, to both structures.
//
// Built against one lesson's own src/ by tools/bench/timer/CMakeLists.txt (lessons 16 and later
// have TimerQueue::cancel), and run by tools/bench/timer-bench.
//
// Exit codes: 0 ok; 1 a structure held or fired the wrong number of timers, or the run took longer
// than --timeout seconds (a loop that never fired, or a machine far too busy); 2 bad usage.
//
//   timer --structure queue|heap [--scenario random|fixed-delay] [--pending 10000] [--seed 1]
//         [--timeout 60]
//
// The last line is machine-readable: `result structure=... scenario=... pending=... schedule_ns=...
// cancel_ns=... fire_ns=... first_schedule_ns=... schedule_wall_ns=... (and the other three)
// new_bytes_per_timer=... new_calls_per_timer=... rss_bytes_per_timer=... entries_after_cancel=...`
// (times in ns of CPU time, or of wall-clock time for the _wall_ ones, per operation;
// entries_after_cancel: what the structure still holds after the cancels, cancelled entries
// included).

#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "Callbacks.h"
#include "EventLoop.h"
#include "TimerId.h"
#include "TimerQueue.h"
#include "Timestamp.h"
#include "cli.h"
#include "watchdog.h"

// ---- Counting operator new -------------------------------------------------------------------
// Every plain form is replaced, so that memory is always allocated and freed by the same pair.
// The counts are per thread (thread-local: no atomic on the path being measured); every timer is
// made and freed in the main thread. A sized delete says how much it frees; the standard
// containers' allocators use it. An unsized one is counted apart: one during a measurement would
// make the bytes figure too high, and the program says so.

namespace {

struct AllocationCounts {
  uint64_t calls = 0;
  uint64_t bytes = 0;       // asked of operator new
  uint64_t freedBytes = 0;  // given back through a sized delete
  uint64_t unsizedFrees = 0;
};

thread_local AllocationCounts allocations;

void* allocate(std::size_t size) {
  ++allocations.calls;
  allocations.bytes += size;
  return std::malloc(size == 0 ? 1 : size);
}

void release(void* p, std::size_t size) {
  if (p == nullptr) return;
  allocations.freedBytes += size;
  std::free(p);
}

void releaseUnsized(void* p) {
  if (p == nullptr) return;
  ++allocations.unsizedFrees;
  std::free(p);
}

}  // namespace

void* operator new(std::size_t size) {
  if (void* p = allocate(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return allocate(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return allocate(size); }
void operator delete(void* p) noexcept { releaseUnsized(p); }
void operator delete[](void* p) noexcept { releaseUnsized(p); }
void operator delete(void* p, std::size_t size) noexcept { release(p, size); }
void operator delete[](void* p, std::size_t size) noexcept { release(p, size); }
void operator delete(void* p, const std::nothrow_t&) noexcept { releaseUnsized(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { releaseUnsized(p); }

namespace {

using Clock = std::chrono::steady_clock;

const Program kProgram("timer");

constexpr double kFarAhead = 1000;   // seconds: the schedule's timers are due 1000-2000 s ahead
constexpr double kFarWindow = 1000;  // seconds
constexpr double kDueWindow = 1;     // seconds: the fire's timers fell due in the last second
constexpr int64_t kFixedStepUs = 1;  // fixed-delay: each timer due this long after the one before
// What the program writes to before the fire, per timer, so that the big blocks that follow find
// resident memory (see keepFreedMemory): more than the heap's vector takes as it doubles its way
// to N entries (at most 4N entries of 48 bytes, freed blocks included), and than the queue's
// bucket arrays and expired_ vector take.
constexpr size_t kResidentBytesPerTimer = 200;

struct Options {
  std::string structure;
  std::string scenario = "random";
  int pending = 10000;
  int seed = 1;
  double timeout = 60;
};

Options parseOptions(int argc, char* argv[]) {
  Options o;
  const CommandLine commandLine(kProgram, {{"--structure", "queue|heap", &o.structure, 0, 0, true},
                                           {"--scenario", "random|fixed-delay", &o.scenario},
                                           {"--pending", "N", &o.pending, 2, 10000000},
                                           {"--seed", "S", &o.seed, 0, 1000000000},
                                           {"--timeout", "S", &o.timeout, 1, 3600}});
  commandLine.parse(argc, argv);
  if (o.structure != "queue" && o.structure != "heap") {
    commandLine.usageError("--structure must be queue or heap, not " + o.structure);
  }
  if (o.scenario != "random" && o.scenario != "fixed-delay") {
    commandLine.usageError("--scenario must be random or fixed-delay, not " + o.scenario);
  }
  return o;
}

// ---- The alternative: a binary heap with lazy cancellation ------------------------------------
// A min-heap (std::push_heap/pop_heap) of (when, sequence, callback), and one bit per timer ever
// made that says it is done: run or cancelled. cancel() sets the bit and leaves the entry where it
// is, popping cancelled entries only when they reach the top; popExpired() pops what is due and
// skips what is done. One-shot timers only (the benchmark needs no more), and no timerfd: see the
// file's comment. Its semantics match the lesson's where the benchmark could tell: timers due at
// the same instant run in the order they were added; a timer cancelled by a callback of the round
// does not run; a timer added by a callback waits for a later round.
class HeapTimers {
 public:
  TimerId addTimer(TimerCallback callback, Timestamp when) {
    const uint64_t sequence = done_.size() + 1;  // 0 names no timer
    done_.push_back(false);
    heap_.push_back(Entry{when, sequence, std::move(callback)});
    std::push_heap(heap_.begin(), heap_.end(), Later());
    ++pending_;
    return TimerId(sequence);
  }

  void cancel(TimerId id) {
    const uint64_t sequence = id.sequence();
    if (sequence == 0 || sequence > done_.size() || done_[sequence - 1]) return;
    done_[sequence - 1] = true;
    --pending_;
    while (!heap_.empty() && done_[heap_.front().sequence - 1]) {
      std::pop_heap(heap_.begin(), heap_.end(), Later());
      heap_.pop_back();
    }
  }

  // Runs every timer due by `now` that is not done, earliest first.
  void popExpired(Timestamp now) {
    const uint64_t lastBefore = done_.size();  // later ones were added by this round's callbacks
    while (!heap_.empty() && heap_.front().when <= now) {
      std::pop_heap(heap_.begin(), heap_.end(), Later());
      Entry entry = std::move(heap_.back());
      heap_.pop_back();
      if (entry.sequence > lastBefore) {
        addedMeanwhile_.push_back(std::move(entry));
        continue;
      }
      if (done_[entry.sequence - 1]) continue;  // cancelled
      done_[entry.sequence - 1] = true;
      --pending_;
      entry.callback();
    }
    for (Entry& entry : addedMeanwhile_) {
      heap_.push_back(std::move(entry));
      std::push_heap(heap_.begin(), heap_.end(), Later());
    }
    addedMeanwhile_.clear();
  }

  size_t size() const { return pending_; }         // timers that will still run
  size_t entries() const { return heap_.size(); }  // cancelled ones not yet popped included

 private:
  struct Entry {
    Timestamp when;
    uint64_t sequence;
    TimerCallback callback;
  };
  // std::push_heap makes a max-heap: "later" as the less-than puts the earliest on top.
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.when != b.when ? a.when > b.when : a.sequence > b.sequence;
    }
  };

  std::vector<Entry> heap_;
  std::vector<Entry> addedMeanwhile_;
  std::vector<bool> done_;  // by sequence - 1
  size_t pending_ = 0;
};

// ---- Measuring ---------------------------------------------------------------------------------

// What every callback points to: the fire phase counts the timers run, and the last one quits
// the loop (the schedule's and the cancel's timers never run).
struct FireState {
  uint64_t fired = 0;
  uint64_t expected = 0;
  EventLoop* loop = nullptr;
};

TimerCallback makeCallback(FireState* state) {
  return [state] {
    if (++state->fired == state->expected && state->loop != nullptr) state->loop->quit();
  };
}

// The phase running, for the watchdog's message.
constexpr const char* kFirePhase = "fire";
std::atomic<const char*> phase{"set-up"};

// VmRSS of this process, in bytes (0 if /proc cannot be read).
uint64_t rssBytes() {
  FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return 0;
  char line[256];
  uint64_t kib = 0;
  while (std::fgets(line, sizeof line, status) != nullptr) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) kib = std::strtoull(line + 6, nullptr, 10);
  }
  std::fclose(status);
  return kib * 1024;
}

// The time of a phase, per operation: the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID:
// user and system time, page faults included, but not the time the thread waited for a core that
// other work on the machine held), and the wall-clock time.
struct PerOperation {
  double cpuNs = 0;
  double wallNs = 0;
};

class Stopwatch {
 public:
  Stopwatch() : wall_(Clock::now()), cpu_(threadCpuNs()) {}

  PerOperation perOperation(size_t operations) const {
    const double count = static_cast<double>(operations);
    return {(threadCpuNs() - cpu_) / count,
            std::chrono::duration<double, std::nano>(Clock::now() - wall_).count() / count};
  }

 private:
  static double threadCpuNs() {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
  }

  Clock::time_point wall_;
  double cpu_;
};

void expect(size_t held, size_t expected, const std::string& what) {
  if (held != expected) {
    kProgram.fail(what + ": the structure holds " + std::to_string(held) + " timers, not " +
                  std::to_string(expected));
  }
}

// The due times and the cancels, all drawn or computed before anything is measured.
struct Plan {
  std::vector<Timestamp> due;  // the fire's due times: all before the program started
  std::vector<Timestamp> far;  // the schedule's due times: 1000 s ahead or more
  std::vector<size_t> cancel;  // the N/2 schedule timers cancelled, by index, in that order
};

// Random due times: `count` of them in [base, base + window seconds), to the microsecond.
std::vector<Timestamp> dueTimes(std::mt19937_64* random, size_t count, Timestamp base,
                                double window) {
  std::uniform_int_distribution<int64_t> offset(
      0, static_cast<int64_t>(window * Timestamp::kMicrosecondsPerSecond) - 1);
  std::vector<Timestamp> times(count);
  for (Timestamp& t : times) t = Timestamp(base.microseconds() + offset(*random));
  return times;
}

// Fixed-delay due times: `count` of them from `first` on, each kFixedStepUs after the one before.
std::vector<Timestamp> steadyTimes(size_t count, Timestamp first) {
  std::vector<Timestamp> times(count);
  for (size_t i = 0; i < count; ++i) {
    times[i] = Timestamp(first.microseconds() + static_cast<int64_t>(i) * kFixedStepUs);
  }
  return times;
}

Plan makePlan(size_t n, uint64_t seed, bool fixedDelay) {
  Plan plan;
  if (fixedDelay) {
    // The last of the fire's timers falls due 1 s before now: all are due.
    const int64_t span = static_cast<int64_t>(n) * kFixedStepUs;
    plan.due =
        steadyTimes(n, Timestamp(addTime(Timestamp::now(), -kDueWindow).microseconds() - span));
    plan.far = steadyTimes(n, addTime(Timestamp::now(), kFarAhead));
    plan.cancel.resize(n / 2);
    std::iota(plan.cancel.begin(), plan.cancel.end(), 0);  // the oldest half, oldest first
    return plan;
  }
  std::mt19937_64 random(seed);
  plan.due = dueTimes(&random, n, addTime(Timestamp::now(), -kDueWindow), kDueWindow);
  plan.far = dueTimes(&random, n, addTime(Timestamp::now(), kFarAhead), kFarWindow);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), random);
  plan.cancel.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n / 2));
  return plan;
}

// The lesson's TimerQueue and the heap, behind the calls the phases make.
struct QueueUnderTest {
  explicit QueueUnderTest(EventLoop* loop) : loop_(loop), timers_(loop) {}
  TimerId add(TimerCallback cb, Timestamp when) { return timers_.addTimer(std::move(cb), when, 0); }
  void cancel(TimerId id) { timers_.cancel(id); }
  size_t size() const { return timers_.size(); }
  size_t entries() const { return timers_.size(); }  // a cancel takes the timer out at once
  // Runs the loop until the last callback quits it: one round, as all are due.
  void fireAll() { loop_->loop(); }

  EventLoop* loop_;
  TimerQueue timers_;
};

struct HeapUnderTest {
  explicit HeapUnderTest(EventLoop*) {}
  TimerId add(TimerCallback cb, Timestamp when) { return timers_.addTimer(std::move(cb), when); }
  void cancel(TimerId id) { timers_.cancel(id); }
  size_t size() const { return timers_.size(); }
  size_t entries() const { return timers_.entries(); }
  void fireAll() { timers_.popExpired(Timestamp::now()); }

  HeapTimers timers_;
};

// From here on, what the program frees stays in the process: no block gets a mapping of its own
// (M_MMAP_MAX 0), and the heap's top is never trimmed. Then `bytes` are allocated, written to
// and freed: resident memory that the next phases' big blocks (the heap's vector, the index's
// bucket array, the round's expired_ vector) are carved from, as in a server that has run a while,
// instead of page faults on fresh pages.
void keepFreedMemory(size_t bytes) {
  if (::mallopt(M_MMAP_MAX, 0) != 1 || ::mallopt(M_TRIM_THRESHOLD, INT32_MAX) != 1) {
    kProgram.fail("mallopt failed");
  }
  char* const block = static_cast<char*>(std::malloc(bytes));
  if (block == nullptr) kProgram.fail("cannot allocate " + std::to_string(bytes) + " bytes");
  // One write per page, volatile: a memset before free() is a dead store that the compiler may
  // drop, and the malloc and free with it.
  volatile char* const pages = block;
  const size_t pageSize = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  for (size_t offset = 0; offset < bytes; offset += pageSize) pages[offset] = 1;
  std::free(block);
}

struct Result {
  PerOperation firstSchedule;   // on memory never touched before
  double newBytesPerTimer = 0;  // asked of operator new and not given back, per pending timer
  double newCallsPerTimer = 0;
  double rssBytesPerTimer = 0;
  uint64_t unsizedFrees = 0;  // during the first schedule
  PerOperation fire;
  PerOperation schedule;
  PerOperation cancel;
  size_t entriesAfterCancel = 0;
};

template <typename Structure>
Result measure(EventLoop* loop, const Plan& plan) {
  const size_t n = plan.far.size();
  const size_t cancels = plan.cancel.size();
  Result r;
  {
    phase = "first schedule";
    FireState state;
    state.expected = n;
    state.loop = loop;
    auto timers = std::make_unique<Structure>(loop);
    const uint64_t rssBefore = rssBytes();
    const AllocationCounts before = allocations;
    const Stopwatch stopwatch;
    for (size_t i = 0; i < n; ++i) timers->add(makeCallback(&state), plan.due[i]);
    r.firstSchedule = stopwatch.perOperation(n);
    const AllocationCounts after = allocations;
    r.rssBytesPerTimer =
        (static_cast<double>(rssBytes()) - static_cast<double>(rssBefore)) / static_cast<double>(n);
    r.newBytesPerTimer = (static_cast<double>(after.bytes - before.bytes) -
                          static_cast<double>(after.freedBytes - before.freedBytes)) /
                         static_cast<double>(n);
    r.newCallsPerTimer = static_cast<double>(after.calls - before.calls) / static_cast<double>(n);
    r.unsizedFrees = after.unsizedFrees - before.unsizedFrees;
    expect(timers->size(), n, "after the first schedule");

    phase = "set-up";
    keepFreedMemory(n * kResidentBytesPerTimer);

    phase = kFirePhase;
    const Stopwatch fireStopwatch;
    timers->fireAll();
    r.fire = fireStopwatch.perOperation(n);
    if (state.fired != n) {
      kProgram.fail("the fire ran " + std::to_string(state.fired) + " of " + std::to_string(n) +
                    " due timers");
    }
    expect(timers->size(), 0, "after the fire");
    phase = "teardown";
  }
  {
    phase = "schedule";
    FireState idle;  // these timers never run
    std::vector<TimerId> ids(n);
    auto timers = std::make_unique<Structure>(loop);
    const Stopwatch stopwatch;
    for (size_t i = 0; i < n; ++i) ids[i] = timers->add(makeCallback(&idle), plan.far[i]);
    r.schedule = stopwatch.perOperation(n);
    expect(timers->size(), n, "after the schedule");

    phase = "cancel";
    const Stopwatch cancelStopwatch;
    for (size_t k = 0; k < cancels; ++k) timers->cancel(ids[plan.cancel[k]]);
    r.cancel = cancelStopwatch.perOperation(cancels);
    expect(timers->size(), n - cancels, "after the cancels");
    r.entriesAfterCancel = timers->entries();
    phase = "teardown";
  }  // the remaining timers are freed, untimed
  return r;
}

}  // namespace

int main(int argc, char* argv[]) {
  const Options o = parseOptions(argc, argv);
  const bool queue = o.structure == "queue";
  const bool fixedDelay = o.scenario == "fixed-delay";
  const size_t n = static_cast<size_t>(o.pending);
  std::printf("timer: %s, %zu timers, %s\n",
              queue ? "the lesson's TimerQueue (std::map + unordered_map, one timerfd)"
                    : "a binary heap with lazy cancellation (no timerfd, no poll)",
              n,
              fixedDelay ? "fixed delay (each due 1 us after the one before; the oldest half "
                           "cancelled, oldest first)"
                         : "random due times (half cancelled, at random)");
  std::fflush(stdout);

  // A loop whose timerfd never fired would wait in the poller for ever.
  Watchdog watchdog(kProgram, o.timeout, [] {
    const char* const during = phase.load();
    return std::string(", in its ") + during + " phase" +
           (during == kFirePhase ? ": the loop has not run every due timer (did the timerfd fire?)"
                                 : ": the machine is far too busy, or the bound too short");
  });
  const Plan plan = makePlan(n, static_cast<uint64_t>(o.seed), fixedDelay);
  EventLoop loop;  // the heap does not use it; made for both, so both start from the same state
  const Result r =
      queue ? measure<QueueUnderTest>(&loop, plan) : measure<HeapUnderTest>(&loop, plan);
  watchdog.finish();

  std::printf(
      "timer: first schedule (on memory never touched before) %.1f ns/add (wall %.1f); per pending "
      "timer %.1f bytes from operator new in %.3f calls, VmRSS +%.1f bytes\n",
      r.firstSchedule.cpuNs, r.firstSchedule.wallNs, r.newBytesPerTimer, r.newCallsPerTimer,
      r.rssBytesPerTimer);
  if (r.unsizedFrees != 0) {
    std::printf("timer: %llu unsized deletes during the first schedule: the bytes figure is high\n",
                static_cast<unsigned long long>(r.unsizedFrees));
  }
  std::printf(
      "timer: fire %.1f ns/timer (wall %.1f), schedule %.1f ns/add (wall %.1f), cancel %.1f "
      "ns/cancel (wall %.1f); %zu entries held after %zu cancels (CPU time per operation)\n",
      r.fire.cpuNs, r.fire.wallNs, r.schedule.cpuNs, r.schedule.wallNs, r.cancel.cpuNs,
      r.cancel.wallNs, r.entriesAfterCancel, n / 2);
  std::printf(
      "result structure=%s scenario=%s pending=%zu schedule_ns=%.2f cancel_ns=%.2f fire_ns=%.2f "
      "first_schedule_ns=%.2f schedule_wall_ns=%.2f cancel_wall_ns=%.2f fire_wall_ns=%.2f "
      "first_schedule_wall_ns=%.2f new_bytes_per_timer=%.2f new_calls_per_timer=%.4f "
      "rss_bytes_per_timer=%.2f entries_after_cancel=%zu\n",
      o.structure.c_str(), o.scenario.c_str(), n, r.schedule.cpuNs, r.cancel.cpuNs, r.fire.cpuNs,
      r.firstSchedule.cpuNs, r.schedule.wallNs, r.cancel.wallNs, r.fire.wallNs,
      r.firstSchedule.wallNs, r.newBytesPerTimer, r.newCallsPerTimer, r.rssBytesPerTimer,
      r.entriesAfterCancel);
  return 0;
}
