"""Verifier registry: name -> verifier, like the bench's suites.

:func:`register_verifier` (embedders, tests) first, then the built-ins (imported lazily),
then the ``ponder.verifiers`` entry-point group, whose objects are verifier classes or
zero-argument factories. A plug-in package declares, in its pyproject::

    [project.entry-points."ponder.verifiers"]
    myverifier = "my_package.verify:MyVerifier"

:func:`judge` runs a verifier in a thread of its own with a timeout: a verifier that raises
or does not answer in time is a rejection carrying the reason, never an acceptance.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import threading
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from ponder.errors import ConfigError
from ponder.request import ChatRequest
from ponder.verify.base import Judgement, Verifier

ENTRY_POINT_GROUP = "ponder.verifiers"
VerifierFactory = Callable[[], Verifier]
DEFAULT_TIMEOUT_S = 10.0

_registered: dict[str, VerifierFactory] = {}
_BUILTINS: dict[str, str] = {
    "embedded": "ponder.verify.embedded:EmbeddedVerifier",
    "json_schema": "ponder.verify.json_schema:JsonSchemaVerifier",
    "regex": "ponder.verify.regex:RegexVerifier",
    "sql": "ponder.verify.sql:SqlVerifier",
    "python_tests": "ponder.verify.python_tests:PythonTestsVerifier",
}


def register_verifier(name: str, factory: VerifierFactory) -> None:
    """Make ``name`` resolve to ``factory()`` (replaces any earlier registration)."""
    _registered[name] = factory


def unregister_verifier(name: str) -> None:
    _registered.pop(name, None)


def available_verifiers() -> list[str]:
    names = {*_registered, *_BUILTINS}
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def get_verifier(name: str) -> Verifier:
    """A verifier for ``name``; :class:`ConfigError` naming the choices when unknown."""
    factory = _registered.get(name) or _load(name)
    verifier = factory()
    if not isinstance(verifier, Verifier):
        raise ConfigError(f"Verifier {name!r} does not implement the Verifier interface.")
    return verifier


def _load(name: str) -> VerifierFactory:
    if name in _BUILTINS:
        module_name, _, attr = _BUILTINS[name].partition(":")
        factory: VerifierFactory = getattr(importlib.import_module(module_name), attr)
        return factory
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            loaded = ep.load()
            if not callable(loaded):
                raise ConfigError(
                    f"Entry point {ep.value!r} for verifier {name!r} is not callable."
                )
            return loaded  # type: ignore[no-any-return]
    raise ConfigError(
        f"No verifier named {name!r}. Available verifiers: {', '.join(available_verifiers())}."
    )


async def judge(
    verifier: Verifier,
    request: ChatRequest,
    answer: str,
    options: Mapping[str, Any],
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Judgement:
    """The verifier's verdict, run off the event loop; a crash or a timeout is a rejection.

    A daemon thread of its own (not the shared executor): a verifier that hangs forever must
    not take a worker from everything else that runs in threads.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Judgement] = loop.create_future()

    def settle(result: Judgement) -> None:
        if not done.done():
            done.set_result(result)

    def work() -> None:
        try:
            result = verifier.judge(request, answer, options)
            if not isinstance(result, Judgement):
                result = Judgement(False, f"the {verifier.name} verifier returned no verdict")
        except Exception as exc:
            result = Judgement(
                False, f"the {verifier.name} verifier crashed: {type(exc).__name__}: {exc}"
            )
        # RuntimeError: the loop is gone, so nobody waits for this verdict any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result)

    threading.Thread(target=work, name=f"ponder-verify-{verifier.name}", daemon=True).start()
    try:
        return await asyncio.wait_for(asyncio.shield(done), timeout_s)
    except TimeoutError:
        return Judgement(
            False, f"the {verifier.name} verifier did not answer within {timeout_s:g} s"
        )
