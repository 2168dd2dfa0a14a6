"""Sequential clients: the server keeps serving, connection after connection."""

import pytest

from harness import net

CLIENTS = 20


@pytest.mark.feature("sequential_clients")
def test_clients_one_after_another(server):
    for i in range(CLIENTS):
        # A unique message per client: an echo of a previous client's bytes would be caught.
        message = f"client {i} of {CLIENTS}: {'*' * i}\n".encode()
        with server.connect() as sock:
            net.echo_round_trip(sock, message, what=f"client {i}")
    server.assert_alive(f"after {CLIENTS} sequential clients")
