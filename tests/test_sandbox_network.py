"""The code sandbox has no network: a listening socket on loopback that sandboxed code must
fail to reach, with a failure that only the sandbox produces (never ECONNREFUSED, which any
closed port gives, and never a connection the listener saw)."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator

import pytest

from ponder.bench.suites.code.sandbox import network_isolation, run_tests

ADD_TESTS = [((1, 2), 3)]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that accepts connections: reaching it would succeed without a sandbox."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


def port(server: socket.socket) -> int:
    number: int = server.getsockname()[1]
    return number


def assert_nobody_connected(server: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        server.accept()


def test_the_listener_is_reachable_from_outside_the_sandbox(listener: socket.socket) -> None:
    """The premise: the same connection from an unsandboxed process does get through."""
    with socket.create_connection(("127.0.0.1", port(listener)), timeout=2):
        pass
    listener.setblocking(True)
    listener.settimeout(2)
    accepted, _ = listener.accept()
    accepted.close()


def test_the_socket_module_is_disabled(listener: socket.socket) -> None:
    code = (
        "import socket\n"
        "def add(a, b):\n"
        f"    socket.create_connection(('127.0.0.1', {port(listener)}), timeout=2)\n"
        "    return a + b\n"
    )
    result = run_tests(code, "add", ADD_TESTS, timeout_s=5.0)
    assert not result.ok
    assert "OSError: network access is disabled in the sandbox" in result.reason
    assert_nobody_connected(listener)


def test_a_raw_socket_finds_no_network_at_all(listener: socket.socket) -> None:
    """Past the harness's socket stub (the C module ``_socket``) only the network namespace
    stands: there loopback is down, so connect fails with ENETUNREACH, not ECONNREFUSED."""
    assert network_isolation(), "this machine cannot give the sandbox a network namespace"
    code = (
        "import _socket\n"
        "def add(a, b):\n"
        "    s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)\n"
        "    s.settimeout(2)\n"
        f"    s.connect(('127.0.0.1', {port(listener)}))\n"
        "    return a + b\n"
    )
    result = run_tests(code, "add", ADD_TESTS, timeout_s=5.0)
    assert not result.ok
    assert f"[Errno {errno.ENETUNREACH}]" in result.reason, result.reason
    assert "refused" not in result.reason.lower()
    assert_nobody_connected(listener)
