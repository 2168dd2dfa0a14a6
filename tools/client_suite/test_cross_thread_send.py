"""Cross-thread sends: replies made in worker threads reach their clients through the event loop.

From lesson 12 on a worker hands each reply to the loop (EventLoop::queueInLoop), which sends it in
its own thread: the only thread that touches a connection. Many clients doing many round trips
through several workers must each get every reply, whole and in order; a ThreadSanitizer build of
the server reports any data race on the way, and the suite fails a test whose server's sanitizer
reported anything. Stopping the server while replies are on their way must be clean too: the loop
quits, the workers are joined, exit code 0.
"""

import signal
import threading

import pytest

from harness import net

CLIENTS = 16
ROUNDS = 100
CAP = 60.0


@pytest.mark.feature("cross_thread_send")
def test_many_clients_get_every_reply_made_in_a_worker(start_server):
    server = start_server(args=["--workers", "4"])
    errors = []

    def client(i):
        try:
            with server.connect(nodelay=True) as sock:
                for r in range(ROUNDS):
                    net.echo_round_trip(sock, f"client {i} round {r}\n".encode(),
                                        what=f"client {i}, round {r}")
        except (AssertionError, OSError) as e:
            errors.append(f"client {i}: {e}")

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(CAP)
    assert not any(t.is_alive() for t in threads), f"clients still running after {CAP:g} s"
    assert not errors, "\n".join(errors)


@pytest.mark.feature("cross_thread_send")
def test_sigterm_while_replies_are_on_their_way_exits_cleanly(start_server):
    # 8 messages of 200 ms of work on 2 workers: when the signal comes, two are being worked on and
    # the others wait in the queue, their replies still to be handed to the loop.
    server = start_server(args=["--workers", "2", "--work-ms", "200"])
    socks = [server.connect() for _ in range(8)]
    try:
        net.echo_round_trip(socks[0], b"first\n", timeout=10.0)  # the server is serving
        for i, sock in enumerate(socks):
            net.send_all(sock, f"in flight {i}\n".encode())
        code = server.terminate(signal.SIGTERM, 10.0)
        assert code == 0, f"the server exited with {code}, not 0\n{server.output_report()}"
    finally:
        for sock in socks:
            sock.close()
