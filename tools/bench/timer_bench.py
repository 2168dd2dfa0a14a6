"""Timers: the time per schedule, cancel and fire with N timers pending, and the memory per pending
timer, of chosen lessons' TimerQueue, next to the simplest alternative (a binary heap with lazy
cancellation) measured in the same run, in two scenarios: random due times (and random cancels),
and a fixed delay (due times that grow in the order the timers are added; the oldest cancelled
first), the way a server's per-request or per-connection timeouts come.

Run through tools/bench/timer-bench (it picks the interpreter). For each lesson (16 or later: they
have TimerQueue::cancel) it builds tools/bench/timer/timer.cpp against that lesson's own src/
(Release, into build-bench/timer-NN). Then, for each N and each scenario, it runs the program once
for each lesson's TimerQueue and once for the heap (built with the first lesson: the heap is the
program's own), each run a fresh process, the structures taking turns, --repeat times, and prints
the medians, grouped by scenario. No sockets and no server. Every run is bounded in time.
"""

import argparse
import sys
import textwrap

import benchlib as b

MAX_PENDING = 4_000_000
TARGET_PENDING = 1_000_000  # the lesson's targets: this many timers held,
TARGET_NS = 1000  # and every operation on them in under 1 us
OPERATIONS = ("schedule", "cancel", "fire")  # the ones the target is about
SCENARIOS = {  # the program's --scenario -> (short name, the heading of its rows in the table)
    "random": ("random", "random: due times at random 1000-2000 s ahead; N/2 cancelled, picked at random"),
    "fixed-delay": ("fixed delay", "fixed delay: each timer due 1 us after the one before, 1000 s ahead; "
                                   "the oldest N/2 cancelled, oldest first"),
}


def parse_args():
    p = argparse.ArgumentParser(
        prog="timer-bench",
        description="Time per timer scheduled, cancelled and fired with N timers pending, and memory per "
                    "pending timer: lessons' TimerQueue next to a binary heap with lazy cancellation.")
    p.add_argument("--lessons", required=True,
                   help="comma-separated lessons, 16 or later, e.g. 16 (each lesson's TimerQueue gets its rows; "
                        "the heap is measured once)")
    p.add_argument("--pending", default="10000,100000,1000000",
                   help="comma-separated numbers of pending timers N (default 10000,100000,1000000)")
    p.add_argument("--scenarios", default="random,fixed-delay",
                   help="comma-separated scenarios: random (due times at random, random cancels), fixed-delay (due "
                        "times in the order added, the oldest cancelled first) (default random,fixed-delay)")
    p.add_argument("--repeat", type=int, default=1, help="runs per cell, interleaved; the median is shown (default 1)")
    a = p.parse_args()
    a.lessons = b.find_library_lessons(a.lessons, "TimerQueue.h", ["void cancel(TimerId"],
                                       "TimerQueue::cancel (lessons 16 and later have TimerQueue::cancel)", p.error)
    a.pending = b.parse_list(a.pending, int, 2, MAX_PENDING, lambda m: p.error(f"--pending: {m}"))
    scenarios = [item.strip() for item in a.scenarios.split(",") if item.strip()]
    for item in scenarios:
        if item not in SCENARIOS:
            p.error(f"--scenarios: {item!r} is not a scenario (scenarios: {', '.join(SCENARIOS)})")
    if not scenarios:
        p.error("--scenarios: no scenario given")
    a.scenarios = [name for name in SCENARIOS if name in scenarios]  # the table's order, once each
    if not 1 <= a.repeat <= 10:
        p.error("--repeat must be 1..10")
    return a


def bound(n):
    """Seconds one run may take: ample for the slowest seen here (about 25 s for 1,000,000 timers in the
    TimerQueue with the cores busy with other work); only a loop that never fires, or a machine far too
    busy, reaches it."""
    return 60 + n * 120e-6


FIELDS = {  # the program's result field -> the name a run's dict keeps it under
    "schedule_ns": "schedule", "cancel_ns": "cancel", "fire_ns": "fire", "first_schedule_ns": "first",
    "new_bytes_per_timer": "bytes", "new_calls_per_timer": "calls", "rss_bytes_per_timer": "rss",
    "entries_after_cancel": "entries",
}


def run_one(program, structure, scenario, n, seed):
    """One run; returns a dict with the FIELDS' names (None when missing) and error (None when all went
    well)."""
    timeout = bound(n)
    fields, error = b.run_program([program, "--structure", structure, "--scenario", scenario, "--pending", n,
                                   "--seed", seed, "--timeout", f"{timeout:.0f}"], timeout + 30)
    run = {name: float(fields[key]) if key in fields else None for key, name in FIELDS.items()}
    if run["fire"] is None and not error:
        error = "no result line"
    run["error"] = error
    return run


class Structure:
    """One column set of the results: a lesson's TimerQueue, or the heap (built with `lesson`)."""

    def __init__(self, kind, lesson):
        self.kind = kind  # "queue" or "heap"
        self.lesson = lesson

    @property
    def label(self):
        return f"{self.lesson.path.name[:2]} TimerQueue" if self.kind == "queue" else "heap"

    @property
    def name(self):
        return f"{self.lesson.name} TimerQueue" if self.kind == "queue" else "heap (no timerfd)"


def ns(value):
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def main():
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens, also through a pipe
    args = parse_args()
    print(f"timer-bench: {', '.join(l.name for l in args.lessons)} TimerQueue and a binary heap; pending "
          f"{args.pending}; scenarios {', '.join(args.scenarios)}; {args.repeat} runs per cell")
    print(b.machine_note("one thread of the benchmark"))
    programs = {l: b.build_against("timer", l) for l in args.lessons}
    structures = [Structure("queue", l) for l in args.lessons] + [Structure("heap", args.lessons[0])]

    results = {}  # (structure, scenario, N) -> list of run results
    for rep in range(args.repeat):
        for n in args.pending:
            for scenario in args.scenarios:
                for s in b.turn_order(structures, rep):
                    r = run_one(programs[s.lesson], s.kind, scenario, n, rep + 1)
                    results.setdefault((s, scenario, n), []).append(r)
                    line = f"run: {s.name:<30} {SCENARIOS[scenario][0]:<11} N={n:<8}"
                    if r["fire"] is not None:
                        line += (f" schedule {ns(r['schedule'])}, cancel {ns(r['cancel'])}, fire {ns(r['fire'])} ns "
                                 f"(first schedule {ns(r['first'])}); {r['bytes']:.1f} B/timer from new in "
                                 f"{r['calls']:.2f} calls, VmRSS +{r['rss']:.1f} B/timer")
                    if r["error"]:
                        line += f"   FAILED: {r['error']}"
                    print(line, flush=True)

    print(f"timer-bench: after the runs, {b.background_note()}")
    print_table(args, structures, results)
    print_verdict(args, structures, results)
    return b.finish(results, logs=False)


ROWS = (  # (key, row label, how a cell is shown)
    ("schedule", "schedule ns", ns),
    ("cancel", "cancel ns", ns),
    ("fire", "fire ns", ns),
    ("first", "first schedule ns", ns),
    ("bytes", "B/timer (new)", lambda v: f"{v:.1f}"),
    ("rss", "B/timer (VmRSS)", lambda v: f"{v:.1f}"),
    ("calls", "new calls/timer", lambda v: f"{v:.2f}"),
)


def print_table(args, structures, results):
    heap = structures[-1]
    print()
    print("Timers: CPU time per operation in ns (the benchmark thread's, so that time it waited for a core is "
          "left out)" + (f", median of {args.repeat} runs" if args.repeat > 1 else "")
          + ", and memory per pending timer, by N timers pending, for each scenario. The heap gets no timerfd "
          "and no poll, which only favours it; its cancel only marks the timer, unless the timer is on top.")
    width = 11
    head = f"{'':<14} {'':<18} |" + "|".join(f"{n:>{width}} " for n in args.pending)
    print(head)

    def median(s, scenario, n, key):
        return b.median(b.good_values(results[(s, scenario, n)], key))

    for scenario in args.scenarios:
        print("-" * len(head))
        print(SCENARIOS[scenario][1])
        for s in structures:
            for i, (key, label, show) in enumerate(ROWS):
                cells = []
                for n in args.pending:
                    value = median(s, scenario, n, key)
                    cells.append(f"{'FAILED' if value is None else show(value):>{width}} ")
                print(f"{s.label if i == 0 else '':<14} {label:<18} |" + "|".join(cells))
        for s in structures[:-1]:
            for i, key in enumerate(("schedule", "cancel", "fire", "bytes")):
                cells = []
                for n in args.pending:
                    value, base = median(s, scenario, n, key), median(heap, scenario, n, key)
                    cells.append(f"{'-' if value is None or base is None else b.ratio(value, base):>{width}} ")
                print(f"{(s.lesson.path.name[:2] + ' map/heap') if i == 0 else '':<14} {key:<18} |"
                      + "|".join(cells))
    b.print_spread([b.good_values(runs, key) for runs in results.values() for key in OPERATIONS], args.repeat)
    held = []
    for scenario in args.scenarios:
        entries = [(n, median(heap, scenario, n, "entries")) for n in args.pending]
        shown = ", ".join(f"{int(v)} entries of N={n}" for n, v in entries if v is not None)
        if shown:
            held.append(f"{SCENARIOS[scenario][0]}, {shown}")
    print()
    print(textwrap.fill(
        "Notes: schedule = N timers added to a fresh structure, 1000 s or more ahead, per add, as the structure "
        "grows from 0 to N; cancel = N/2 of them cancelled; fire = N timers all due, run by one round of the "
        "loop (the TimerQueue: epoll_wait, the timerfd's read, the whole round taken out of the map) or by one "
        "popExpired (the heap). Random: due times drawn at random, cancels picked at random, so that each add "
        "and each cancel lands anywhere in the structure. Fixed delay: each timer due 1 us after the one added "
        "before it (what runAfter(timeout) per request or per connection makes), and the oldest half "
        "cancelled in order (a request's timeout cancelled when its reply is sent): each add goes after every "
        "other timer (the TimerQueue's emplace_hint takes its hint; the heap's push_heap moves nothing), each "
        "cancel takes the earliest (the heap pops it at once). Schedule, cancel and fire run on memory touched "
        "before; first schedule = the first N adds of a fresh process (the fire's timers), page faults on fresh "
        "memory included. B/timer (new) = bytes asked of operator new and not given back, per pending timer; "
        "VmRSS adds malloc's headers and rounding, and leaves out capacity reserved but never written (the "
        "heap's vector). After the N/2 cancels the heap still held: " + "; ".join(held)
        + ". A lazily cancelled entry keeps its memory until it comes due or reaches the top (with a fixed "
        "delay, each cancelled timer is on top, and goes at once).",
        width=100))


def scenarios_text(names, of):
    """Whether, or where, an operation met the target: `names` (short names), of the scenarios `of` that
    ran."""
    if len(of) == 1:
        return "met it" if names else "did NOT"
    if len(names) == len(of):
        return "met it in both scenarios"
    return f"met it in {' and '.join(names)} only" if names else "met it in neither scenario"


def print_verdict(args, structures, results):
    if TARGET_PENDING not in args.pending:
        print(f"timer-bench: the target ({TARGET_PENDING:,} timers pending, each operation under 1 us) needs "
              f"--pending {TARGET_PENDING}: not judged")
        return
    ran = [SCENARIOS[scenario][0] for scenario in args.scenarios]
    for s in structures[:-1]:
        shown = []
        met = {key: [] for key in OPERATIONS}  # operation -> the scenarios (short names) where it met the target
        every = []  # the scenarios in which every operation met it
        failed = []
        for scenario in args.scenarios:
            short = SCENARIOS[scenario][0]
            runs = results[(s, scenario, TARGET_PENDING)]
            figures = {key: b.median(b.good_values(runs, key)) for key in OPERATIONS}
            if any(v is None for v in figures.values()):
                shown.append(f"{short}: FAILED")
                failed.append(short)
                continue
            first = b.median(b.good_values(runs, "first"))
            shown.append(f"{short}: " + ", ".join(f"{key} {ns(v)}" for key, v in figures.items())
                         + f" ns (first schedule, page faults included, {ns(first)})")
            for key, v in figures.items():
                if v < TARGET_NS:
                    met[key].append(short)
            if all(v < TARGET_NS for v in figures.values()):
                every.append(short)
        print(f"timer-bench: lesson {s.lesson.name}'s TimerQueue with {TARGET_PENDING:,} timers pending, CPU time "
              f"per operation: " + "; ".join(shown))
        per_operation = ", ".join(f"{key} {scenarios_text(met[key], ran)}" for key in OPERATIONS)
        if len(every) == len(ran):
            overall = "every operation met it" + (" in both scenarios" if len(ran) == 2 else f" ({ran[0]})")
        elif every:
            overall = f"every operation met it in {' and '.join(every)} only"
        else:
            overall = "NOT every operation met it" + (" in either scenario" if len(ran) == 2 else f" ({ran[0]})")
        if failed:
            overall += f" ({' and '.join(failed)} FAILED: counted as not met)"
        print(f"timer-bench: lesson {s.lesson.name}'s TimerQueue against the target (each operation under 1 us with "
              f"{TARGET_PENDING:,} timers pending): {per_operation}; {overall}")


if __name__ == "__main__":
    sys.exit(main())
