"""Long byte streams: a writer thread, a reader that checks as it goes, and reproducible test data.

For transfers of megabytes the client must write and read at the same time (a server that echoes
with blocking writes stops reading once we stop reading), so the writing runs in a thread of its
own. Both threads use the same socket; neither changes its timeout, so the timeout set before the
writer starts bounds each blocking send() and recv(): it is a bound on lack of progress, and the
callers add an overall cap on top.
"""

import random
import socket
import threading
import time


class Writer(threading.Thread):
    """Sends every piece of `pieces` (an iterable of bytes) on sock, then optionally shuts down
    the writing side (SHUT_WR). .sent counts the bytes the kernel took, .last_progress is when
    it last took some, .error is the AssertionError or OSError that stopped it, and .finished is
    set once it is done either way.
    """

    def __init__(self, sock, pieces, shut_wr=False, what="send"):
        super().__init__(daemon=True)  # never keeps pytest from exiting, whatever happened
        self.sock, self.pieces, self.shut_wr, self.what = sock, pieces, shut_wr, what
        self.sent = 0
        self.last_progress = time.monotonic()
        self.error = None
        self.finished = threading.Event()

    def run(self):
        try:
            for piece in self.pieces:
                view = memoryview(piece)
                while view:
                    try:
                        n = self.sock.send(view)
                    except socket.timeout:
                        raise AssertionError(
                            f"{self.what}: the kernel took no byte for {self.sock.gettimeout():g} s "
                            f"after {self.sent} bytes (the server stopped reading)") from None
                    view = view[n:]
                    self.sent += n
                    self.last_progress = time.monotonic()
            if self.shut_wr:
                self.sock.shutdown(socket.SHUT_WR)
        except (AssertionError, OSError) as e:
            self.error = e
        finally:
            self.finished.set()

    def idle(self):
        """Seconds since the kernel last took a byte from us."""
        return time.monotonic() - self.last_progress

    def stop(self, timeout):
        """End the thread: if it is still sending, shut the socket down (which wakes a blocked
        send(); closing it would not, and would let the fd be reused under the thread), then wait
        for it. Call before closing the socket."""
        if self.is_alive():
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.join(timeout)


class Pattern:
    """`total` reproducible pseudo-random bytes, made of pieces computed on demand, so that a test
    can send and check 64 MiB without holding them.

    Piece k is a slice, at a random offset, of a 1 MiB random block: cheap to compute, and a stream
    that loses, repeats or reorders bytes does not match it (the slices start at unrelated offsets).
    """

    BLOCK = 1 << 20

    def __init__(self, seed, total, piece=64 * 1024):
        r = random.Random(seed)
        self.total, self.piece = total, piece
        self.block = r.randbytes(self.BLOCK + piece)
        count = -(-total // piece)
        self.offsets = [r.randrange(self.BLOCK) for _ in range(count)]

    def piece_at(self, k):
        size = min(self.piece, self.total - k * self.piece)
        return self.block[self.offsets[k]:self.offsets[k] + size]

    def pieces(self):
        return (self.piece_at(k) for k in range(len(self.offsets)))

    def slice(self, offset, n):
        """Bytes [offset, offset + n) of the stream."""
        out = bytearray()
        while n > 0:
            k, within = divmod(offset, self.piece)
            part = self.piece_at(k)[within:within + n]
            out += part
            offset += len(part)
            n -= len(part)
        return bytes(out)


def receive_and_check(sock, total, expected, *, cap, expect_eof, what, seed=None, on_progress=None):
    """Read `total` bytes from sock, checking each piece against expected(offset, n) as it arrives.

    With expect_eof the server must then close its side (recv returns b""), and must not send more.
    AssertionError, saying how far it got, on: a byte that differs (with its offset), EOF or an error
    before `total` bytes, no byte for the socket's timeout, or `cap` seconds overall.
    on_progress(received) is called after every recv.
    """
    note = f" (seed {seed})" if seed is not None else ""
    start = time.monotonic()
    buf = bytearray(1 << 18)
    view = memoryview(buf)
    received = 0
    while received < total or expect_eof:
        if time.monotonic() - start > cap:
            raise AssertionError(f"{what}: got {received} of {total} bytes, not done within {cap:g} s{note}")
        want = min(len(buf), total - received) if received < total else len(buf)
        try:
            n = sock.recv_into(view, want)
        except socket.timeout:
            raise AssertionError(f"{what}: no byte for {sock.gettimeout():g} s after {received} of "
                                 f"{total} bytes{note}") from None
        except OSError as e:
            raise AssertionError(f"{what}: got {received} of {total} bytes, then {e!r}{note}") from e
        if n == 0:
            if received < total:
                raise AssertionError(f"{what}: got {received} of {total} bytes, then the server closed "
                                     f"the connection{note}")
            break  # the EOF we expected
        if received + n > total:
            raise AssertionError(f"{what}: got {received + n} bytes, more than the {total} sent{note}")
        got = bytes(view[:n])
        want_bytes = expected(received, n)
        if got != want_bytes:
            i = next(k for k in range(n) if got[k] != want_bytes[k])
            raise AssertionError(
                f"{what}: byte {received + i} of {total} differs (bytes lost, repeated or reordered "
                f"before it): expected {want_bytes[i:i + 16]!r}, got {got[i:i + 16]!r}{note}")
        received += n
        if on_progress is not None:
            on_progress(received)
    return received
