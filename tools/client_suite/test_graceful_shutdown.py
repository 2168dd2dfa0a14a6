"""Graceful shutdown: SIGTERM or SIGINT end the server with exit code 0, and its clients see EOF.

From lesson 6 on the event loop watches for these signals, stops, and the destructors close every
connection and the listening socket on the way out. The lessons before it die by the signal (no
exit code 0), which is why they do not declare this feature.

Three clients are connected when the signal comes: one that never sent anything, one that was
echoed a while ago, and one that was echoed just before. Each must then see EOF: nothing more, no
reset. In an AddressSanitizer build LeakSanitizer runs at exit, and a leak makes the exit code
non-zero: the test then fails, as it should.
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
    # The idle client connects first. Connections are accepted in the order they arrive, so once
    # the later clients have been echoed, the server has accepted the idle one too.
    with server.connect() as idle, server.connect() as earlier, server.connect() as recent:
        net.echo_round_trip(earlier, b"echoed a while ago\n", what="the earlier client")
        net.echo_round_trip(recent, b"echoed just before the signal\n", what="the recent client")
        code = server.terminate(signo, EXIT_BOUND)
        assert code == 0, (f"after {signo.name} the server exited with {describe_exit(code)}, not 0\n"
                           f"{server.output_report()}")
        for sock, what in ((idle, "the idle client"), (earlier, "the earlier client"),
                           (recent, "the recent client")):
            expect_eof(sock, what)
