"""Peer reset: clients that vanish with RST mid-conversation do not crash the server or disturb others.

A reset peer makes the server's next read or write fail with ECONNRESET. A peer that has closed its
end and then reset (the server is in CLOSE_WAIT) makes the server's next write fail with EPIPE, which
also raises SIGPIPE: unless the server ignores that signal, it dies, the classic way an echo server
dies. Which of these a server meets depends on timing, so test_broken_pipe mixes several rounds of
both client behaviours that lead there: a server that does not ignore SIGPIPE dies within a few of
them, while a correct server passes whatever the timing.

The clients here go one after another and never need to be served at the same time, so a server that
handles one connection at a time (lesson 1) passes too: it meets each reset when it gets to it.
"""

import fcntl
import selectors
import socket
import struct
import termios

import pytest

from harness import net

RESET_CLIENTS = 20
BLOCK = 64 * 1024
PARTIAL_ROUNDS = 10
FLOOD_CAP = 32 * 1024 * 1024  # bytes; several times what the kernel buffers hold here
SMALL_RCVBUF = 16 * 1024
FLOOD_IDLE = 0.5  # seconds the socket stays unwritable before we call the pipe full


def send_what_fits(sock, data, timeout):
    """Send as much of data as the kernel takes within `timeout` seconds; returns the count.

    Not an assertion: the server may not have accepted this connection yet, and what matters is
    only that there is unread data in flight when we reset.
    """
    sock.settimeout(timeout)
    sent = 0
    try:
        while sent < len(data):
            sent += sock.send(data[sent:])
    except socket.timeout:
        pass
    return sent


def fresh_echo_works(server, what):
    server.assert_alive(what)
    with server.connect() as sock:
        net.echo_round_trip(sock, f"a fresh client {what}\n".encode(), what=f"fresh client {what}")
    server.assert_alive(what)


@pytest.mark.feature("peer_reset")
def test_reset_with_unread_echo(server, rng):
    for i in range(RESET_CLIENTS):
        sock = server.connect()
        send_what_fits(sock, rng.randbytes(BLOCK), 2.0)
        net.close_with_reset(sock)  # the echo is never read
    fresh_echo_works(server, f"after {RESET_CLIENTS} clients reset with unread data")


@pytest.mark.feature("peer_reset")
def test_reset_after_reading_part_of_the_echo(server, rng):
    seed = rng.seed_value
    for i in range(PARTIAL_ROUNDS):
        # Small enough that the echo fits in the kernel buffers while we do not read, so a server
        # that writes with blocking calls cannot deadlock with us.
        data = rng.randbytes(rng.randint(4 * 1024, 32 * 1024))
        part = rng.randint(1, 1024)
        sock = server.connect()
        try:
            net.send_all(sock, data, what=f"round {i} (seed {seed})")
            got = net.recv_exactly(sock, part, what=f"round {i}: first {part} echoed bytes (seed {seed})")
            net.assert_same(data[:part], got, f"round {i}: start of the echo", seed)
        finally:
            net.close_with_reset(sock)  # the server is most likely still writing the rest
    fresh_echo_works(server, f"after {PARTIAL_ROUNDS} clients reset halfway through their echo")


@pytest.mark.feature("peer_reset")
def test_reset_while_the_server_cannot_write(server):
    # Send without reading until nothing moves any more: both directions are full, so the server is
    # blocked in (or holding data for) a write to us. Then reset. A small receive buffer, set before
    # connecting (it disables the kernel's autotuning), makes "full" come after kilobytes, not the
    # tens of megabytes loopback would otherwise absorb.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RCVBUF)
        sock.settimeout(net.TIMEOUT)
        try:
            sock.connect((server.host, server.port))
        except OSError as e:
            raise AssertionError(f"cannot connect: {e!r}") from e
        sock.setblocking(False)
        block = b"\xab" * BLOCK
        sent = 0
        with selectors.DefaultSelector() as sel:
            sel.register(sock, selectors.EVENT_WRITE)
            while sent < FLOOD_CAP and sel.select(FLOOD_IDLE):
                try:
                    sent += sock.send(block)
                except BlockingIOError:
                    pass
                except OSError:
                    break  # the server gave up on us first; that is its right
    finally:
        net.close_with_reset(sock)
    fresh_echo_works(server, f"after a client reset with {sent} bytes unanswered")


BROKEN_PIPE_ROUNDS = 24
BROKEN_PIPE_ROUND_CAP = 5.0  # seconds per round


def unacknowledged(sock):
    """Bytes (and FIN) we sent that the server's kernel has not acknowledged yet (TIOCOUTQ)."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, bytes(4)))[0]


def close_before_the_echo(server, data):
    """Send, half-close and close at once: the echo goes to a peer that is gone, which answers RST."""
    sock = server.connect()
    try:
        send_what_fits(sock, data, 2.0)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the server gave up on us first
    finally:
        sock.close()


def reset_once_all_data_is_in(server, data):
    """Send all data and FIN, reading only as much echo as keeps the server reading; reset as soon
    as the server's kernel holds all of it. The server is then in CLOSE_WAIT with echo still to
    write into a full pipe, and that write fails with EPIPE."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RCVBUF)  # a pipe that fills fast
        sock.settimeout(net.TIMEOUT)
        try:
            sock.connect((server.host, server.port))
        except OSError as e:
            raise AssertionError(f"cannot connect: {e!r}") from e
        sock.setblocking(False)
        deadline = net.Deadline(BROKEN_PIPE_ROUND_CAP)
        sent = 0
        with selectors.DefaultSelector() as sel:
            sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            while not deadline.expired():
                if sent == len(data) and unacknowledged(sock) == 0:
                    break  # everything is in, FIN included
                for _, mask in sel.select(min(0.05, deadline.remaining())):
                    if mask & selectors.EVENT_WRITE and sent < len(data):
                        try:
                            sent += sock.send(data[sent:sent + BLOCK])
                        except BlockingIOError:
                            pass
                        if sent == len(data):
                            sock.shutdown(socket.SHUT_WR)
                            sel.modify(sock, selectors.EVENT_READ)
                    elif mask & selectors.EVENT_READ:
                        # Just enough for the server to go on reading our data.
                        if not sock.recv(4096):
                            return  # the server closed on us first; that is its right
    except OSError:
        pass  # the server gave up on us first
    finally:
        net.close_with_reset(sock)


@pytest.mark.feature("peer_reset")
def test_broken_pipe(server, rng):
    for i in range(BROKEN_PIPE_ROUNDS):
        if i % 2:
            close_before_the_echo(server, rng.randbytes(rng.choice([16, 64]) * 1024))
        else:
            reset_once_all_data_is_in(server, rng.randbytes(rng.choice([256, 1024, 4096]) * 1024))
        server.assert_alive(f"in round {i} of clients that close or reset before reading their echo "
                            f"(seed {rng.seed_value})")
    fresh_echo_works(server, f"after {BROKEN_PIPE_ROUNDS} clients closed or reset before reading their echo")
