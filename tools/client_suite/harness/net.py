"""Client-side socket helpers.

Every wait here is bounded. When the server does not deliver (no echo in time, an early EOF, a reset),
the helpers raise AssertionError with a message saying what was expected and what arrived: that is
how a test reports "the server does not do this", and the only kind of failure a lesson's strict-xfail
limitation may have (conftest.py). Anything else, such as a crashed server, is a real failure.
"""

import socket
import struct
import time

# Generous on purpose: the suite must not flake on a loaded 2-core machine running sanitizer builds.
# A correct server answers on loopback in milliseconds, so these only decide how long a failing test
# takes to fail.
TIMEOUT = 10.0


class Deadline:
    """A point in time to wait until; loops ask it how long they may still block."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self):
        return max(0.0, self.end - time.monotonic())

    def expired(self):
        return time.monotonic() >= self.end


def connect(host, port, timeout=TIMEOUT, nodelay=False):
    """A connected blocking socket whose operations time out after `timeout` seconds."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        raise AssertionError(f"cannot connect to {host}:{port} within {timeout:g} s: {e!r}") from e
    if nodelay:
        # Without Nagle's algorithm every send() leaves as its own segment (unless the kernel merges
        # queued data), so the server sees the write boundaries we choose.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def send_all(sock, data, timeout=TIMEOUT, what="send"):
    """sendall() bounded by `timeout`; a stall or an error means the server stopped reading."""
    sock.settimeout(timeout)
    try:
        sock.sendall(data)
    except socket.timeout as e:
        raise AssertionError(f"{what}: could not send {len(data)} bytes within {timeout:g} s "
                             "(the server is not reading)") from e
    except OSError as e:
        raise AssertionError(f"{what}: send failed: {e!r}") from e


def recv_exactly(sock, n, timeout=TIMEOUT, what="echo"):
    """Exactly n bytes, or AssertionError if they do not all arrive within `timeout` seconds."""
    deadline = Deadline(timeout)
    buf = bytearray()
    while len(buf) < n:
        left = deadline.remaining()
        if left <= 0:
            raise AssertionError(f"{what}: got {len(buf)} of {n} bytes within {timeout:g} s")
        sock.settimeout(left)
        try:
            chunk = sock.recv(min(n - len(buf), 1 << 16))
        except socket.timeout:
            continue  # the deadline check above reports it
        except OSError as e:
            raise AssertionError(f"{what}: got {len(buf)} of {n} bytes, then {e!r}") from e
        if not chunk:
            raise AssertionError(f"{what}: got {len(buf)} of {n} bytes, then the server closed "
                                 "the connection")
        buf += chunk
    return bytes(buf)


def assert_same(expected, got, what="echo", seed=None):
    """Byte-exact comparison whose message points at the first difference, not at two huge blobs."""
    if expected == got:
        return
    i = next((k for k, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
    note = f" (seed {seed})" if seed is not None else ""
    raise AssertionError(
        f"{what}{note}: sent {len(expected)} bytes, got {len(got)}; first difference at offset {i}: "
        f"expected {expected[i:i + 16]!r}, got {got[i:i + 16]!r}")


def echo_round_trip(sock, data, timeout=TIMEOUT, what="echo", seed=None):
    """Send data, read the same number of bytes back, and check they are the same bytes."""
    send_all(sock, data, timeout, what)
    assert_same(data, recv_exactly(sock, len(data), timeout, what), what, seed)


def close_with_reset(sock):
    """Close so that the kernel sends RST instead of FIN (SO_LINGER on with a zero timeout)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()
