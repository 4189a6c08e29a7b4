"""One small time-to-correct run on the embedded model (skipped until its weights exist)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from ponder.bench.correct import CorrectSettings, run_correct
from ponder.config import Config, default_models
from ponder.errors import PonderError
from ponder.registry import create_provider


def _embedded_ready() -> bool:
    async def check() -> bool:
        try:
            provider = create_provider(default_models()["fast"])
        except PonderError:
            return False
        try:
            return (await provider.check()).usable
        finally:
            await provider.aclose()

    try:
        return asyncio.run(check())
    except Exception:
        return False


pytestmark = pytest.mark.skipif(not _embedded_ready(), reason="the embedded model is not built")


def test_small_run_on_the_embedded_model(tmp_path: Path) -> None:
    result = run_correct(
        Config(models=default_models()),
        CorrectSettings(
            suites=("arith",), models=("fast", "deep"), out=tmp_path, n_per_level=1, k=2
        ),
        progress_stream=io.StringIO(),
    )
    assert result.records
    assert all(r.error is None for r in result.records)
    assert {r.mode for r in result.records} == {"fast", "deep"}
    deep = [r for r in result.records if r.model == "deep"]
    assert all(r.thinking for r in deep)  # deep mode writes a scratchpad
    assert any(r.verdict.ok for r in deep)
    assert (tmp_path / "report.html").exists()
    assert {s.model for s in result.headline} == {"fast", "deep"}
