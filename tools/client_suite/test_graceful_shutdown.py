"""Graceful shutdown: SIGTERM or SIGINT end the server with exit code 0, and its clients see EOF.

From lesson 6 on the event loop watches for these signals, stops, and the destructors close every
connection and the listening socket on the way out. The lessons before it die by the signal (no
exit code 0): for them this is a limitation, the problem lesson 6 solves.

The first test has one client, echoed, and checks the exit code and the client's EOF. The second
has three clients connected when the signal comes: one that never sent anything, one that was
echoed a while ago, and one that was echoed just before. Each must then see EOF: nothing more, no
reset. It needs a server that serves three clients at once (lesson 1 does not: there it fails for
that reason first). In an AddressSanitizer build LeakSanitizer runs at exit, and a leak makes the
exit code non-zero; a server whose destructors call back into objects already destroyed (the
declaration order in server.cpp) is reported too: the test then fails, as it should.
"""

import signal
import socket

import pytest

from harness import net
from harness.server import describe_exit

EXIT_BOUND = 10.0  # seconds from the signal to the server's exit
EOF_BOUND = 5.0  # seconds, after the exit, for each client's EOF


def expect_eof(sock, what):
    sock.settimeout(EOF_BOUND)
    try:
        data = sock.recv(4096)
    except socket.timeout:
        raise AssertionError(f"{what}: no EOF within {EOF_BOUND:g} s of the server's exit") from None
    except OSError as e:
        raise AssertionError(f"{what}: {e!r} instead of EOF") from e
    assert data == b"", f"{what}: got {data[:64]!r} instead of EOF"


@pytest.mark.feature("graceful_shutdown")
@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_ends_the_server_with_exit_code_0(server, signo):
    with server.connect() as client:
        net.echo_round_trip(client, b"echoed before the signal\n", what="the client")
        code = server.terminate(signo, EXIT_BOUND)
        assert code == 0, (f"after {signo.name} the server exited with {describe_exit(code)}, not 0\n"
                           f"{server.output_report()}")
        expect_eof(client, "the client")


@pytest.mark.feature("graceful_shutdown")
def test_every_client_sees_eof_when_the_server_stops(server):
    # The idle client connects first. Connections are accepted in the order they arrive, so once
    # the later clients have been echoed, the server has accepted the idle one too.
    with server.connect() as idle, server.connect() as earlier, server.connect() as recent:
        net.echo_round_trip(earlier, b"echoed a while ago\n", what="the earlier client")
        net.echo_round_trip(recent, b"echoed just before the signal\n", what="the recent client")
        code = server.terminate(signal.SIGTERM, EXIT_BOUND)
        assert code == 0, (f"after SIGTERM the server exited with {describe_exit(code)}, not 0\n"
                           f"{server.output_report()}")
        for sock, what in ((idle, "the idle client"), (earlier, "the earlier client"),
                           (recent, "the recent client")):
            expect_eof(sock, what)
