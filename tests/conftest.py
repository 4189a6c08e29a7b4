"""Shared fixtures. Fixture modules of their own are imported here."""

from __future__ import annotations

import tests.fakes  # noqa: F401  (registers the scripted provider)
from tests.replay import _replay_session, replay  # noqa: F401  (replay server fixtures)
