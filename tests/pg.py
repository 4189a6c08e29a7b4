"""A real PostgreSQL for the tests: one throwaway cluster per test session, a fresh database
per test. ``scripts/ensure_postgres.sh`` installs Debian's server when it is missing and runs
the cluster (as the ``postgres`` user under root). Never skipped: no PostgreSQL, no pass.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.gateway_harness import ROOT, free_port

SCRIPT = ROOT / "scripts" / "ensure_postgres.sh"


@dataclass
class PgCluster:
    directory: Path
    port: int
    admin_dsn: str

    def start(self) -> None:
        subprocess.run(
            ["bash", str(SCRIPT), "start", str(self.directory), str(self.port), "fast"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def stop(self) -> None:
        subprocess.run(
            ["bash", str(SCRIPT), "stop", str(self.directory)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def create_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.admin_dsn.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    directory = Path(tempfile.mkdtemp(prefix="ponder-pg-"))  # /tmp: the postgres user can reach it
    port = free_port()
    started = subprocess.run(
        ["bash", str(SCRIPT), "start", str(directory), str(port), "fast"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert started.returncode == 0, f"could not start PostgreSQL: {started.stderr}"
    cluster = PgCluster(directory, port, started.stdout.strip().splitlines()[-1])
    try:
        yield cluster
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(directory)], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def pg_dsn(pg_cluster: PgCluster) -> str:
    """A new, empty database on the session's cluster."""
    return pg_cluster.create_database()
