"""Shared fixtures. Fixture modules of their own are imported here."""

from __future__ import annotations

from hypothesis import settings

import tests.fakes  # noqa: F401  (registers the scripted provider)
from tests.pg import pg_cluster, pg_dsn  # noqa: F401  (a real PostgreSQL, per session)
from tests.replay import _replay_session, replay  # noqa: F401  (replay server fixtures)

# Property tests check behaviour, not speed (speed is what benchmarks/ measures): hypothesis's
# default 200 ms deadline per example failed two of them on a machine busy with training.
settings.register_profile("ponder", deadline=None)
settings.load_profile("ponder")
