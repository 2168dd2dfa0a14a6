"""Slow work in a thread pool: one client's slow work does not stall the others, and nothing is lost.

From lesson 11 on the server takes `--work-ms MS` (each message is worked on for MS milliseconds
before it is echoed: a stand-in for a blocking call such as a database query), `--workers N` (the
threads doing that work) and `--queue N` (how many tasks may wait for a worker). Lesson 10's server
takes `--work-ms` too, but works in its event loop: there the work of N clients takes N times as
long, the limitation (feature worker_pool) that lesson 11 removes.

worker_order checks what a pool can break: with several workers and a queue smaller than what the
clients pipeline, every connection's bytes must come back complete and in order (a connection's
tasks must not overtake each other, and a full queue must slow the client down, never drop its
bytes), and a client that half-closes must still get its echo (the work in flight holds the close).
"""

import socket
import threading
import time

import pytest

from harness import net, stream

WORK_MS = 500
CLIENTS = 4
# All replies within 2 work times: a loop that works inline needs CLIENTS (4) of them; a pool with
# enough workers needs 1. Wide on both sides, for a loaded machine.
PARALLEL_BOUND = 2 * WORK_MS / 1000


@pytest.mark.feature("worker_pool")
def test_slow_work_of_several_clients_runs_at_the_same_time(start_server):
    server = start_server(args=["--work-ms", str(WORK_MS)])
    socks = [server.connect() for _ in range(CLIENTS)]
    try:
        for i, sock in enumerate(socks):  # every client is accepted and echoed once, before timing
            net.echo_round_trip(sock, f"hello {i}\n".encode(), timeout=CLIENTS * 5.0)
        started = time.monotonic()
        for i, sock in enumerate(socks):
            net.send_all(sock, f"client {i}\n".encode())
        for i, sock in enumerate(socks):
            net.assert_same(f"client {i}\n".encode(),
                            net.recv_exactly(sock, len(f"client {i}\n"), CLIENTS * 5.0), f"client {i}")
        elapsed = time.monotonic() - started
        assert elapsed < PARALLEL_BOUND, (
            f"{CLIENTS} clients with {WORK_MS} ms of work each got their replies after {elapsed:.2f} s, "
            f"not within {PARALLEL_BOUND:g} s: the work of one client stalls the others")
    finally:
        for sock in socks:
            sock.close()


ORDER_CLIENTS = 6
ORDER_BYTES = 1024 * 1024
STALL = 15.0
CAP = 120.0


def random_pieces(payload, rng, largest):
    """payload cut into consecutive pieces of 1..largest bytes."""
    offset = 0
    while offset < len(payload):
        n = rng.randint(1, largest)
        yield payload[offset:offset + n]
        offset += n


@pytest.mark.feature("worker_order")
def test_pipelined_bytes_come_back_complete_and_in_order_through_a_small_queue(start_server, rng):
    # 3 workers may run tasks of different connections at the same time, and a queue of 2 is full
    # most of the time: every path of the dispatch runs.
    server = start_server(args=["--work-ms", "2", "--workers", "3", "--queue", "2"])
    seed = rng.seed_value
    payloads = [rng.randbytes(ORDER_BYTES) for _ in range(ORDER_CLIENTS)]
    piece_rngs = [type(rng)(seed + i) for i in range(ORDER_CLIENTS)]  # one per thread
    errors = []

    def client(i):
        payload = payloads[i]
        try:
            with server.connect(nodelay=True) as sock:
                sock.settimeout(STALL)
                # Many small messages, pipelined: the client never waits for an echo to send more.
                pieces = random_pieces(payload, piece_rngs[i], 4096)
                writer = stream.Writer(sock, pieces, what=f"client {i} (seed {seed})")
                writer.start()
                try:
                    stream.receive_and_check(sock, len(payload),
                                             lambda off, n: payload[off:off + n], cap=CAP,
                                             expect_eof=False, seed=seed, what=f"client {i}'s echo")
                finally:
                    writer.stop(STALL)
                if writer.error is not None:
                    raise writer.error
        except (AssertionError, OSError) as e:
            errors.append(f"client {i}: {e}")

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(ORDER_CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(CAP + STALL)
    assert not any(t.is_alive() for t in threads), f"clients still running after {CAP + STALL:g} s"
    assert not errors, "\n".join(errors)


@pytest.mark.feature("worker_order")
def test_a_half_closing_client_gets_its_echo_after_the_work(start_server):
    server = start_server(args=["--work-ms", "300"])
    with server.connect() as sock:
        net.send_all(sock, b"worked on after our FIN\n")
        sock.shutdown(socket.SHUT_WR)  # at once: the server reads our end of stream during the work
        got = net.recv_exactly(sock, len(b"worked on after our FIN\n"), 10.0,
                               "echo after our shutdown(SHUT_WR)")
        net.assert_same(b"worked on after our FIN\n", got, "echo after our shutdown(SHUT_WR)")
        sock.settimeout(10.0)
        assert sock.recv(1) == b"", "the server did not close after the echo"


@pytest.mark.feature("worker_order")
def test_a_full_queue_serves_connections_in_line_not_the_busiest(start_server):
    # One worker, a queue of one, 100 ms per task: two clients send a small message every 10 ms,
    # so the queue is full all the time. A third client that sends once must get its turn within a
    # few tasks: a server that lets each replying connection resubmit ahead of those waiting in
    # line starves it until the busy ones stop (here after BUSY_SECONDS).
    BUSY_SECONDS = 5.0
    server = start_server(args=["--work-ms", "100", "--workers", "1", "--queue", "1"])
    late = server.connect()
    busy = [server.connect() for _ in range(2)]
    stop_at = time.monotonic() + BUSY_SECONDS
    errors = []

    def keep_busy(sock, name):
        try:
            sock.settimeout(0.01)
            while time.monotonic() < stop_at:
                sock.sendall(b"m\n")
                try:
                    sock.recv(65536)
                except socket.timeout:
                    pass
        except OSError as e:
            errors.append(f"{name}: {e!r}")

    threads = [threading.Thread(target=keep_busy, args=(sock, f"busy client {i}"), daemon=True)
               for i, sock in enumerate(busy)]
    try:
        for t in threads:
            t.start()
        time.sleep(1.0)  # not synchronisation: the busy clients get the queue full first
        started = time.monotonic()
        net.send_all(late, b"my turn?\n")
        got = net.recv_exactly(late, len(b"my turn?\n"), BUSY_SECONDS + 5.0, "the late client's echo")
        waited = time.monotonic() - started
        net.assert_same(b"my turn?\n", got, "the late client's echo")
        assert waited < 2.5, (f"the late client waited {waited:.1f} s for a 100 ms task, while the busy "
                              "connections kept taking the queue's free place ahead of it")
    finally:
        for t in threads:
            t.join(BUSY_SECONDS + 10.0)
        for sock in busy + [late]:
            sock.close()
    assert not errors, "\n".join(errors)
