"""Large message: 16 MiB echoed intact while the client writes and reads at the same time.

16 MiB is far more than the socket buffers hold, so the echo goes through the server while it is
still receiving: every partial write must be finished later, never dropped. A server that writes
what fits and drops the rest (lessons 3-9, no output buffer yet) loses bytes here whenever our
reader falls behind, which depends on timing: lesson 3 retires this feature for that reason, and
lesson 10, with its output buffer, must pass it.

The client writes from a thread and reads in the test's thread, so it never stops reading; the test
fails after STALL seconds without a byte moving, or at CAP.
"""

import pytest

from harness import stream

PAYLOAD_SIZE = 16 * 1024 * 1024
STALL = 10.0  # seconds without progress, on either side
CAP = 60.0  # seconds for the whole transfer


@pytest.mark.feature("large_message")
def test_16_mib_echoed_intact(server, rng):
    seed = rng.seed_value
    payload = rng.randbytes(PAYLOAD_SIZE)
    with server.connect(nodelay=True) as sock:
        sock.settimeout(STALL)
        pieces = (payload[i:i + 64 * 1024] for i in range(0, len(payload), 64 * 1024))
        writer = stream.Writer(sock, pieces, what=f"large message (seed {seed})")
        writer.start()
        try:
            stream.receive_and_check(sock, len(payload), lambda offset, n: payload[offset:offset + n],
                                     cap=CAP, expect_eof=False, seed=seed, what="16 MiB echo")
        finally:
            writer.stop(STALL)  # done already, unless the reading side failed
        assert writer.error is None, f"{writer.error} (seed {seed})"
