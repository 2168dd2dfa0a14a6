"""Echo: every byte sent comes back, in order, however TCP splits or merges the writes."""

import socket
import threading

import pytest

from harness import net

PAYLOAD_SIZE = 256 * 1024
READER_CAP = 60  # seconds; the reader also stops after net.TIMEOUT without progress


@pytest.mark.feature("echo")
def test_short_text(server):
    with server.connect() as sock:
        net.echo_round_trip(sock, b"hello, reactor\n")


@pytest.mark.feature("echo")
def test_all_byte_values(server, rng):
    # NUL, newline and bytes >= 0x80 are where string-based code (strlen, getline, signed char)
    # goes wrong.
    every_byte = bytes(range(256))
    shuffled = bytearray(every_byte)
    rng.shuffle(shuffled)
    with server.connect() as sock:
        for data in (every_byte, every_byte[::-1], bytes(shuffled), every_byte * 4, b"\0" * 100):
            net.echo_round_trip(sock, data, what="binary echo", seed=rng.seed_value)


@pytest.mark.feature("echo")
def test_writes_before_any_read_come_back_concatenated(server):
    # Nagle stays on and we do not read in between: the kernel merges these writes, and the server
    # sees one stream, not five messages.
    parts = [b"first ", b"second ", b"\0third\n", b"x" * 1000, b"last"]
    with server.connect() as sock:
        for part in parts:
            net.send_all(sock, part)
        expected = b"".join(parts)
        net.assert_same(expected, net.recv_exactly(sock, len(expected)), "merged writes")


class Reader(threading.Thread):
    """Reads `total` bytes from sock concurrently, so the server never blocks on a full pipe.

    The socket is shared with the writing thread, so neither thread changes its timeout: the timeout
    set before the threads start bounds each recv(), i.e. it is a bound on lack of progress.
    """

    def __init__(self, sock, total):
        super().__init__(daemon=True)
        self.sock, self.total = sock, total
        self.received = bytearray()
        self.error = None
        self.progress = threading.Condition()

    def run(self):
        try:
            while len(self.received) < self.total:
                try:
                    chunk = self.sock.recv(1 << 16)
                except socket.timeout:
                    raise AssertionError(f"no echoed byte for {self.sock.gettimeout():g} s, "
                                         f"got {len(self.received)} of {self.total}") from None
                if not chunk:
                    raise AssertionError(f"the server closed the connection after echoing "
                                         f"{len(self.received)} of {self.total} bytes")
                with self.progress:
                    self.received += chunk
                    self.progress.notify_all()
        except (AssertionError, OSError) as e:
            self.error = e
        with self.progress:
            self.progress.notify_all()

    def caught_up(self, n, timeout):
        """Wait until n bytes have arrived (or the reader has stopped); False on timeout."""
        with self.progress:
            return self.progress.wait_for(lambda: len(self.received) >= n or self.error is not None,
                                          timeout)


@pytest.mark.feature("echo")
def test_large_random_payload_in_random_chunks(server, rng):
    seed = rng.seed_value
    payload = rng.randbytes(PAYLOAD_SIZE)
    with server.connect(nodelay=True) as sock:
        sock.settimeout(net.TIMEOUT)
        reader = Reader(sock, len(payload))
        reader.start()
        sent = 0
        while sent < len(payload) and reader.error is None:
            chunk = payload[sent:sent + rng.randint(1, 4096)]
            try:
                sock.sendall(chunk)
            except OSError as e:  # socket.timeout included: the server stopped reading
                raise AssertionError(f"sending at offset {sent} failed: {e!r} (seed {seed})") from e
            sent += len(chunk)
            # Mostly send back to back (the kernel merges queued chunks into one segment), but now
            # and then wait until everything sent so far is back, so the server also sees lone
            # small segments.
            if rng.random() < 0.25:
                assert reader.caught_up(sent, net.TIMEOUT), (
                    f"echo stalled: {len(reader.received)} of {sent} sent bytes back "
                    f"after {net.TIMEOUT:g} s (seed {seed})")
        reader.join(READER_CAP)
        assert not reader.is_alive(), f"the echo reader did not finish within {READER_CAP} s (seed {seed})"
        if reader.error is not None:
            raise AssertionError(f"{reader.error} (seed {seed})")
        net.assert_same(payload, bytes(reader.received), "large echo", seed)
