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
    return copy.deepcopy(arg)

def _load(source, name):
    # The function ``name`` from ``source``, or the reason there is none.
    namespace = {"__name__": "solution"}
    try:
        exec(compile(source, "solution.py", "exec"), namespace)
    except BaseException as exc:
        return None, f"the code does not run: {type(exc).__name__}: {exc}"
    fn = namespace.get(name)
    if not callable(fn):
        return None, f"no function named {name} is defined"
    return fn, None

def _check(fn, name, tests):
    # (ok, reason): the first hidden test ``fn`` fails, or that all pass.
    for i, (raw, expected) in enumerate(tests, 1):
        # Built afresh for every call (an expression is rebuilt, a literal deep-copied): the
        # function may change its arguments, and rebuilding a big one beats deep-copying it.
        args = tuple(_build(a) for a in raw)
        raises = isinstance(expected, tuple) and len(expected) == 2 and expected[0] == "__raises__"
        try:
            got = fn(*args)
        except MemoryError:
            return False, f"test {i}: {_call(name, raw)} ran out of memory"
        except RecursionError:
            return False, f"test {i}: {_call(name, raw)} hit the recursion limit"
        except _Overtime:
            raise
        except BaseException as exc:
            if raises and type(exc).__name__ == expected[1]:
                continue
            return False, f"test {i}: {_call(name, raw)} raised {type(exc).__name__}: {exc}"
        if raises:
            got_text = _short(got)
            return False, (f"test {i}: {_call(name, raw)} returned {got_text}; expected it to"
                           f" raise {expected[1]}")
        if not _equal(got, expected):
            got_text, want = _short(got), _short(expected)
            return False, f"test {i}: {_call(name, raw)} returned {got_text}; expected {want}"
    return True, f"all {len(tests)} hidden tests pass"

def _call(name, raw):
    return f"{name}({', '.join(_short(_build(a)) for a in raw)})"

class _Overtime(BaseException):
    pass

def _overtime(signum, frame):
    raise _Overtime()

def main():
    spec = json.load(open("spec.json"))
    tests = ast.literal_eval(spec["tests"])
    sys.stdout = io.StringIO()
    if "sources" not in spec:
        fn, why = _load(open("solution.py").read(), spec["function"])
        if fn is None:
            _report(ok=False, reason=why)
            return
        ok, reason = _check(fn, spec["function"], tests)
        _report(ok=ok, reason=reason)
        return
    # A batch (the mutation check): each source judged in turn, with its own time limit.
    import signal, time
    signal.signal(signal.SIGALRM, _overtime)
    results = []
    limit = spec["each_s"]
    for source in spec["sources"]:
        started = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            fn, why = _load(source, spec["function"])
            ok, reason = (False, why) if fn is None else _check(fn, spec["function"], tests)
        except _Overtime:
            ok, reason = False, f"timed out after {limit:.2g} s"
        except MemoryError:
            ok, reason = False, "ran out of memory"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        results.append({"ok": ok, "reason": reason, "s": time.monotonic() - started})
        if spec["scale"] and len(results) == 1:
            # the first source is the reference: the others get a multiple of its time
            limit = spec["floor_s"] + spec["scale"] * results[0]["s"]
    _report(ok=True, reason="batch", results=results)

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


@dataclass(frozen=True, slots=True)
class BatchResult:
    ok: bool
    reason: str
    seconds: float


def run_batch(
    sources: list[str],
    function: str,
    tests: list[tuple[Any, ...]] | str,
    each_s: float = 30.0,
    scale: float | None = 3.0,
    floor_s: float = 0.5,
    timeout_s: float = 300.0,
    memory_mb: int = 1024,
) -> list[BatchResult]:
    """Run ``tests`` on ``function`` from each of ``sources``, one sandboxed process for all.

    For trusted code that may misbehave (mutants of a reference solution): the same limits and
    harness as :func:`run_tests`, but one process start for the batch, and a SIGALRM stops a
    source that runs too long: ``each_s`` seconds for the first source (the reference), then
    ``floor_s + scale`` times what the first took (``scale=None``: ``each_s`` for every
    source), so a looping mutant costs little on a slow machine and a fast one alike.
    Raises ``RuntimeError`` if the batch dies.
    """
    spec = {
        "function": function,
        "tests": tests if isinstance(tests, str) else repr(tests),
        "sources": sources,
        "each_s": each_s,
        "scale": scale,
        "floor_s": floor_s,
    }
    with tempfile.TemporaryDirectory(prefix="ponder-code-") as scratch:
        root = Path(scratch)
        (root / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        (root / "harness.py").write_text(HARNESS, encoding="utf-8")
        memory = memory_mb * 1024 * 1024
        done = subprocess.run(
            # -s -P rather than -I: isolated but for a fixed hash seed, so set order (and
            # with it the verdict on a mutant) is the same on every run
            [*network_isolation(), sys.executable, "-s", "-P", "harness.py"],
            cwd=root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env={"PATH": os.defpath, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"},
            start_new_session=True,
            preexec_fn=lambda: _limits(memory, int(timeout_s) + 1),
            timeout=timeout_s,
            check=False,
        )
    for line in reversed(done.stdout.decode("utf-8", "replace").splitlines()):
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            results = data["results"]
            return [BatchResult(bool(r["ok"]), str(r["reason"]), float(r["s"])) for r in results]
    tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
    raise RuntimeError(f"the batch died (exit {done.returncode}): {tail[0][:200]}")


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
