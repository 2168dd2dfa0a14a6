"""Half-close: a client that has sent everything shuts down its writing side and still gets its echo.

shutdown(SHUT_WR) sends FIN: the server's read() returns 0 ("no more data"), but the connection is
still open the other way. The server must first send back everything it has received, and then
close (its FIN is our EOF). A server that treats read() == 0 as "gone" and drops the connection
without writing what it still holds fails here; one that never closes fails by the bound.

64 KiB is small enough to fit in the socket buffers while we do not read, so the test needs no
concurrent reader and passes on every lesson's server, also on one that writes without an output
buffer (lessons 3-9), which would drop bytes of a larger echo.
"""

import socket

import pytest

from harness import net, stream

PAYLOAD_SIZE = 64 * 1024
EOF_BOUND = 10.0  # seconds, from our FIN to the last byte of the echo and the server's FIN


@pytest.mark.feature("half_close")
def test_echo_then_eof_after_shutdown_wr(server, rng):
    seed = rng.seed_value
    payload = rng.randbytes(PAYLOAD_SIZE)
    with server.connect(nodelay=True) as sock:
        sent = 0
        while sent < len(payload):
            chunk = payload[sent:sent + rng.randint(1, 8192)]
            net.send_all(sock, chunk, what=f"sending at offset {sent} (seed {seed})")
            sent += len(chunk)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(EOF_BOUND)
        stream.receive_and_check(sock, len(payload), lambda offset, n: payload[offset:offset + n],
                                 cap=EOF_BOUND, expect_eof=True, seed=seed,
                                 what="echo after our shutdown(SHUT_WR), then the server's EOF")
