"""The command-line contract: --help, bad usage, a port already in use.

These run the executable directly (not the `server` fixture): each invocation must end by itself.
"""

import socket
import subprocess

import pytest

RUN_TIMEOUT = 10.0


def run(server_exe, *args):
    """Run the server with args; it must exit by itself within RUN_TIMEOUT seconds."""
    argv = [server_exe, *args]
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        # subprocess.run has killed it; a server that starts serving here ignored the bad usage.
        raise AssertionError(f"{' '.join(argv)} did not exit within {RUN_TIMEOUT:g} s; "
                             f"stdout: {_text(e.stdout)!r} stderr: {_text(e.stderr)!r}") from e


def _text(output):
    # TimeoutExpired carries bytes (or None) even when run() was asked for text.
    return output.decode("utf-8", "replace") if isinstance(output, bytes) else output or ""


def has_usage_line(text):
    return any(line.startswith("usage:") for line in text.splitlines())


def describe(result):
    return (f"{' '.join(result.args)}: exit code {result.returncode}\n"
            f"stdout: {result.stdout!r}\nstderr: {result.stderr!r}")


@pytest.mark.feature("usage")
def test_help_prints_usage_on_stdout_and_exits_0(server_exe):
    result = run(server_exe, "--help")
    assert result.returncode == 0, describe(result)
    assert has_usage_line(result.stdout), "no line starting with 'usage:' on stdout\n" + describe(result)


@pytest.mark.feature("usage")
def test_unknown_flag_is_a_usage_error(server_exe):
    result = run(server_exe, "--no-such-flag")
    assert result.returncode == 2, describe(result)
    assert has_usage_line(result.stderr), "no line starting with 'usage:' on stderr\n" + describe(result)


@pytest.mark.feature("usage")
@pytest.mark.parametrize("args", [
    ["--port", "99999", "--host", "127.0.0.1"],  # out of range
    ["--port", "-1", "--host", "127.0.0.1"],
    ["--port", "abc", "--host", "127.0.0.1"],  # atoi() would quietly make this 0, i.e. "any port"
    ["--port", "80x", "--host", "127.0.0.1"],  # strtol() would stop at the x and take 80
    ["--host", "127.0.0.1", "--port"],  # the value is missing
], ids=["99999", "-1", "abc", "80x", "missing"])
def test_bad_port_is_a_usage_error(server_exe, args):
    result = run(server_exe, *args)
    assert result.returncode == 2, describe(result)
    assert has_usage_line(result.stderr), "no line starting with 'usage:' on stderr\n" + describe(result)


@pytest.mark.feature("usage")
def test_port_in_use_exits_1_with_the_reason(server_exe):
    # We hold the port ourselves, listening, so the server's bind() must fail (SO_REUSEADDR does not
    # allow binding over a listening socket).
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        result = run(server_exe, "--port", str(port), "--host", "127.0.0.1")
    assert result.returncode == 1, describe(result)
    assert "Address already in use" in result.stderr, describe(result)


@pytest.mark.feature("usage")
@pytest.mark.parametrize("host", ["localhost", "1.2.3", "256.0.0.1"])
def test_bad_host_is_a_usage_error(server_exe, host):
    result = run(server_exe, "--port", "0", "--host", host)
    assert result.returncode == 2, describe(result)
    assert has_usage_line(result.stderr), "no line starting with 'usage:' on stderr\n" + describe(result)
