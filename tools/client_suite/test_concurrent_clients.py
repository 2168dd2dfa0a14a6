"""Concurrent clients: one connected client does not keep the others waiting.

The one-client-at-a-time server of lesson 1 fails these by the bound (CONCURRENT_BOUND) rather than by
hanging, so they can run there as strict expected failures.
"""

import contextlib

import pytest

from harness import net

# How long a client may wait for its echo while others are connected. Loopback echoes take
# microseconds, so this is a bound with a wide margin, not a performance requirement.
CONCURRENT_BOUND = 5.0
CLIENTS = 10
ROUNDS = 3


@pytest.mark.feature("concurrent_clients")
def test_second_client_served_while_first_stays_connected(server):
    with server.connect() as first:
        net.echo_round_trip(first, b"first client, staying connected\n", what="first client")
        # `first` is now idle but open. A server that serves one connection until it closes is
        # still waiting on it, and never gets to the second client.
        with server.connect() as second:
            net.echo_round_trip(second, b"second client\n", CONCURRENT_BOUND,
                                what="second client, while the first is still connected")
        # The first one is still served too.
        net.echo_round_trip(first, b"first client again\n", what="first client after the second")


@pytest.mark.feature("concurrent_clients")
def test_interleaved_clients_get_their_own_bytes(server):
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(server.connect(CONCURRENT_BOUND)) for _ in range(CLIENTS)]
        for r in range(ROUNDS):
            # Every client sends before any reads, so all CLIENTS are mid-conversation at once.
            messages = [f"round {r} client {i} {'#' * (i * 7 + r)}\n".encode() for i in range(CLIENTS)]
            for i, sock in enumerate(socks):
                net.send_all(sock, messages[i], what=f"round {r} client {i}")
            for i, sock in enumerate(socks):
                got = net.recv_exactly(sock, len(messages[i]), CONCURRENT_BOUND,
                                       f"round {r} client {i} of {CLIENTS} connected at once")
                net.assert_same(messages[i], got, f"round {r} client {i}")
