"""Run untrusted Python against hidden tests in a subprocess with limits.

- wall-clock timeout (default 5 s): the whole process group is killed;
- ``RLIMIT_AS`` (default 512 MiB), ``RLIMIT_CPU``, ``RLIMIT_FSIZE`` (no big files), ``RLIMIT_CORE``;
- no network: a fresh network namespace through ``unshare -n`` (or ``-rn``) where the kernel
  allows it, and in every case the harness replaces ``socket`` so connecting raises;
- ``python -I`` (isolated: no environment variables, no user site, no cwd on sys.path), a
  scratch working directory, and a minimal environment.

The harness prints one JSON line, tagged, as the last thing on stdout; anything the solution
prints is captured and ignored.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "@@PONDER-RESULT@@"

HARNESS = r"""
import ast, json, math, sys, io, copy

MARKER = "@@PONDER-RESULT@@"
_out = sys.stdout

def _no_network(*args, **kwargs):
    raise OSError("network access is disabled in the sandbox")

import socket as _socket_module
class _BlockedSocket(_socket_module.socket):
    def __init__(self, *args, **kwargs):
        _no_network()
_socket_module.socket = _BlockedSocket
_socket_module.create_connection = _no_network
_socket_module.getaddrinfo = _no_network
_socket_module.socketpair = _no_network

def _report(**data):
    _out.write(MARKER + json.dumps(data) + "\n")
    _out.flush()

def _short(value):
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."

def _equal(a, b):
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
        except TypeError:
            return False
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_equal, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b

def _build(arg):
    if isinstance(arg, tuple) and len(arg) == 2 and arg[0] == "__expr__":
        return eval(arg[1], {})
    return arg

def main():
    spec = json.load(open("spec.json"))
    source = open("solution.py").read()
    sys.stdout = io.StringIO()
    namespace = {"__name__": "solution"}
    try:
        exec(compile(source, "solution.py", "exec"), namespace)
    except BaseException as exc:
        _report(ok=False, reason=f"the code does not run: {type(exc).__name__}: {exc}")
        return
    fn = namespace.get(spec["function"])
    if not callable(fn):
        _report(ok=False, reason=f"no function named {spec['function']} is defined")
        return
    tests = ast.literal_eval(spec["tests"])
    for i, (args, expected) in enumerate(tests, 1):
        args = tuple(_build(a) for a in args)
        call = f"{spec['function']}({', '.join(_short(a) for a in args)})"
        raises = isinstance(expected, tuple) and len(expected) == 2 and expected[0] == "__raises__"
        try:
            got = fn(*copy.deepcopy(args))
        except MemoryError:
            _report(ok=False, reason=f"test {i}: {call} ran out of memory")
            return
        except RecursionError:
            _report(ok=False, reason=f"test {i}: {call} hit the recursion limit")
            return
        except BaseException as exc:
            if raises and type(exc).__name__ == expected[1]:
                continue
            _report(ok=False, reason=f"test {i}: {call} raised {type(exc).__name__}: {exc}")
            return
        if raises:
            got_text = _short(got)
            _report(ok=False, reason=f"test {i}: {call} returned {got_text}; expected it to raise"
                    f" {expected[1]}")
            return
        if not _equal(got, expected):
            got_text, want = _short(got), _short(expected)
            _report(ok=False, reason=f"test {i}: {call} returned {got_text}; expected {want}")
            return
    _report(ok=True, reason=f"all {len(tests)} hidden tests pass")

try:
    main()
except MemoryError:
    _report(ok=False, reason="ran out of memory")
"""


@dataclass(frozen=True, slots=True)
class SandboxResult:
    ok: bool
    reason: str
    killed: bool = False


@functools.cache
def network_isolation() -> tuple[str, ...]:
    """The ``unshare`` prefix that gives a process no network, or () where none works."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    for flags in ("-n", "-rn"):
        try:
            done = subprocess.run(
                [unshare, flags, "true"], capture_output=True, timeout=5, check=False
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0:
            return (unshare, flags)
    return ()


def _limits(memory_bytes: int, cpu_s: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_tests(
    source: str,
    function: str,
    tests: list[tuple[Any, ...]] | str,
    timeout_s: float = 5.0,
    memory_mb: int = 512,
) -> SandboxResult:
    """Run ``tests`` (``[(args, expected), ...]`` or its repr) on ``function`` from ``source``."""
    spec = {"function": function, "tests": tests if isinstance(tests, str) else repr(tests)}
    with tempfile.TemporaryDirectory(prefix="ponder-code-") as scratch:
        root = Path(scratch)
        (root / "solution.py").write_text(source, encoding="utf-8")
        (root / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        (root / "harness.py").write_text(HARNESS, encoding="utf-8")
        command = [*network_isolation(), sys.executable, "-I", "harness.py"]
        memory = memory_mb * 1024 * 1024
        cpu = max(1, int(timeout_s) + 1)
        process = subprocess.Popen(
            command,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={"PATH": os.defpath, "LANG": "C.UTF-8"},
            start_new_session=True,
            preexec_fn=lambda: _limits(memory, cpu),
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.communicate()
            return SandboxResult(False, f"timed out after {timeout_s:g} s and was killed", True)
    return _parse(process.returncode, stdout, stderr)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _parse(returncode: int, stdout: bytes, stderr: bytes) -> SandboxResult:
    for line in reversed(stdout.decode("utf-8", "replace").splitlines()):
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            return SandboxResult(bool(data["ok"]), str(data["reason"]))
    if returncode < 0:
        name = signal.Signals(-returncode).name
        why = "the CPU time limit" if name == "SIGXCPU" else name
        return SandboxResult(False, f"killed by {why}", True)
    tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
    if "MemoryError" in tail[0]:
        return SandboxResult(False, "ran out of memory and was killed", True)
    return SandboxResult(False, f"the test run crashed (exit {returncode}): {tail[0][:200]}")
