"""Provider registry: provider kind -> class, via the ``ponder.providers`` entry points.

Built-in providers are declared in ``pyproject.toml`` exactly as a plugin package would
declare its own, so there is one lookup path and no branching on provider names.
Tests and embedders can also :func:`register` a class directly.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TypeVar

from ponder.config import ModelConfig
from ponder.errors import ConfigError
from ponder.providers.base import Estimator, Provider

ENTRY_POINT_GROUP = "ponder.providers"
P = TypeVar("P", bound=type[Provider])

_registered: dict[str, type[Provider]] = {}


def register(kind: str) -> Callable[[P], P]:
    """Class decorator: make ``kind`` resolve to this provider class."""

    def decorate(cls: P) -> P:
        cls.kind = kind
        _registered[kind] = cls
        return cls

    return decorate


def provider_class(kind: str) -> type[Provider]:
    if kind in _registered:
        return _registered[kind]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == kind:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Provider)):
                raise ConfigError(
                    f"Entry point {ep.value!r} for provider {kind!r} is not a Provider."
                )
            _registered[kind] = cls
            return cls
    raise ConfigError(
        f"No provider of kind {kind!r}. Available kinds: {', '.join(available_kinds())}."
        " Install the plugin that provides it, or fix provider = in ponder.toml."
    )


def available_kinds() -> list[str]:
    return sorted({*_registered, *(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))})


def create_provider(
    config: ModelConfig,
    resolve: Callable[[str], Provider] | None = None,
    estimate: Estimator | None = None,
) -> Provider:
    """The provider for ``config``. A wrapper kind (``needs_resolver``, e.g. the hedge) also
    gets ``resolve``, which turns the model names it wraps into providers, and ``estimate``,
    the router's figures for a request."""
    cls = provider_class(config.provider)
    if not cls.needs_resolver:
        return cls(config)
    if resolve is None:
        raise ConfigError(
            f"[models.{config.name}] provider {config.provider!r} wraps other models;"
            " create it through the engine."
        )
    return cls.with_resolver(config, resolve, estimate)
