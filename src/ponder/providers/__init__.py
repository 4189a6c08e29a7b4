"""Providers: one module per wire format, plus the embedded ``local`` model.

Each registers its kind through the ``ponder.providers`` entry-point group, the same path a
third-party plugin uses (see ``pyproject.toml``); :mod:`ponder.registry` looks them up.
"""

from ponder.providers.base import Availability, Provider

__all__ = ["Availability", "Provider"]
