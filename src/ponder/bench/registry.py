"""Suite registry: name -> suite factory.

Built-in suites and plug-ins resolve through the same lookup: :func:`register_suite` (for
embedders and tests) first, then the ``ponder.suites`` entry-point group, whose objects are
suite classes or zero-argument factories. A plug-in package declares, in its pyproject::

    [project.entry-points."ponder.suites"]
    mysuite = "my_package.bench:MySuite"
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from ponder.bench.suite import Suite
from ponder.errors import ConfigError

ENTRY_POINT_GROUP = "ponder.suites"
SuiteFactory = Callable[[], Suite]

_registered: dict[str, SuiteFactory] = {}

# Built-ins, imported lazily so ``ponder bench --help`` stays instant.
_BUILTINS: dict[str, str] = {
    "arith": "ponder.bench.suites.embedded:arith_suite",
    "ledger": "ponder.bench.suites.embedded:ledger_suite",
    "sql": "ponder.bench.suites.sql.suite:SqlSuite",
    "code": "ponder.bench.suites.code.suite:CodeSuite",
}


def register_suite(name: str, factory: SuiteFactory) -> None:
    """Make ``name`` resolve to ``factory()`` (replaces any earlier registration)."""
    _registered[name] = factory


def unregister_suite(name: str) -> None:
    _registered.pop(name, None)


def available_suites() -> list[str]:
    names = {*_registered, *_BUILTINS}
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def get_suite(name: str) -> Suite:
    """A fresh suite instance for ``name``; :class:`ConfigError` naming the choices if unknown."""
    factory = _registered.get(name)
    if factory is None:
        factory = _load(name)
    suite = factory()
    if not isinstance(suite, Suite):
        raise ConfigError(f"Suite {name!r} does not implement the Suite interface.")
    return suite


def _load(name: str) -> SuiteFactory:
    if name in _BUILTINS:
        module_name, _, attr = _BUILTINS[name].partition(":")
        import importlib

        factory: SuiteFactory = getattr(importlib.import_module(module_name), attr)
        return factory
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            loaded: SuiteFactory = ep.load()
            if not callable(loaded):
                raise ConfigError(f"Entry point {ep.value!r} for suite {name!r} is not callable.")
            return loaded
    raise ConfigError(
        f"No bench suite named {name!r}. Available suites: {', '.join(available_suites())}."
    )
