"""Slow reader: a client writes 64 MiB and reads nothing for a while; no byte is lost, and the
server does not hold them all in memory.

The client's writer thread sends 64 MiB and then shuts down its writing side. The test's thread
reads nothing until the writer has finished or the kernel has taken no byte from it for
READ_AFTER_IDLE seconds, then reads to EOF and checks every byte in order.

- A server that echoes with blocking writes (lessons 1, 2) blocks once our receive buffer is full,
  stops reading, and so stops our writer: back-pressure through TCP's flow control. When we start
  reading, everything flows again. It passes.
- A server that writes what the socket takes and drops the rest (lessons 3-9) goes on reading, so
  the writer finishes, and the echo misses everything that did not fit in the socket buffers: tens
  of megabytes. It fails, deterministically: 64 MiB is far more than the buffers can hold whatever
  the timing (the receive buffer of a socket nobody reads is not autotuned upwards).
- A server that keeps the whole echo in an unbounded output buffer loses nothing, but its memory
  grows by the 64 MiB. The test samples the server's resident memory (VmRSS) and fails when it
  grows by more than RSS_GROWTH_BOUND over what it was before the transfer. A server with a
  high-water mark stops reading once its buffer is full and passes (lesson 10).

Sanitizer builds: the suite starts every server with a small ASan quarantine (harness/server.py),
so that memory freed and reused does not look like growth.
"""

import time

import pytest

from harness import net, stream

TOTAL = 64 * 1024 * 1024
READ_AFTER_IDLE = 1.0  # seconds the writer makes no progress before we start reading
STALL = 10.0  # seconds without progress, on either side, once we read
CAP = 60.0  # seconds for the whole test
RSS_GROWTH_BOUND = 48 * 1024 * 1024  # bytes the server's memory may grow: less than TOTAL
SAMPLE_EVERY = 0.05  # seconds between memory samples
MIB = 1024 * 1024


class MemoryWatch:
    """Samples the server's VmRSS; AssertionError as soon as it has grown by more than the bound."""

    def __init__(self, server):
        self.server = server
        self.baseline = self.peak = server.rss_bytes()
        self.last = 0.0

    def sample(self, when, force=False):
        now = time.monotonic()
        if not force and now - self.last < SAMPLE_EVERY:
            return
        self.last = now
        self.peak = max(self.peak, self.server.rss_bytes())
        growth = self.peak - self.baseline
        if growth > RSS_GROWTH_BOUND:
            raise AssertionError(
                f"the server's memory grew by {growth / MIB:.1f} MiB (VmRSS {self.baseline / MIB:.1f} -> "
                f"{self.peak / MIB:.1f} MiB) {when}: more than {RSS_GROWTH_BOUND / MIB:g} MiB, so it "
                "buffers what the client does not read instead of applying back-pressure")


@pytest.mark.feature("slow_reader")
def test_64_mib_to_a_client_that_reads_late(server, rng):
    seed = rng.seed_value
    pattern = stream.Pattern(seed, TOTAL)
    deadline = net.Deadline(CAP)
    with server.connect() as sock:
        # One round trip first: the server has then accepted us (a thread-per-client server has
        # started our thread), so the memory baseline includes the connection's own cost.
        net.echo_round_trip(sock, b"slow reader\n")
        memory = MemoryWatch(server)
        sock.settimeout(STALL)
        writer = stream.Writer(sock, pattern.pieces(), shut_wr=True, what=f"slow reader (seed {seed})")
        writer.start()
        try:
            # Not reading: wait until the writer is done or stopped by the server's back-pressure.
            while not writer.finished.wait(SAMPLE_EVERY):
                memory.sample(f"after taking {writer.sent} bytes while the client did not read")
                if writer.idle() >= READ_AFTER_IDLE:
                    break
                assert not deadline.expired(), (
                    f"the writer neither finished nor stalled within {CAP:g} s ({writer.sent} bytes sent)")
            unread = writer.sent
            memory.sample(f"after taking {unread} bytes while the client did not read", force=True)
            how = "finished" if writer.finished.is_set() else f"stalled {READ_AFTER_IDLE:g} s"
            stream.receive_and_check(
                sock, TOTAL, pattern.slice, cap=deadline.remaining(), expect_eof=True, seed=seed,
                what=f"echo read after the writer {how} at {unread} of {TOTAL} bytes",
                on_progress=lambda got: memory.sample(f"while the client read ({got} bytes read)"))
        finally:
            writer.stop(STALL)
        assert writer.error is None, f"{writer.error} (seed {seed})"
        memory.sample("at the end", force=True)
