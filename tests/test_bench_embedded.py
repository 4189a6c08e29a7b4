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
    """The bench drives the real local provider end to end (accuracy is the model's business)."""
    result = run_correct(
        Config(models=default_models()),
        CorrectSettings(
            suites=("arith", "ledger"), models=("fast", "deep"), out=tmp_path, n_per_level=1, k=1
        ),
        progress_stream=io.StringIO(),
    )
    assert len(result.records) == 2 * 7  # 4 arith + 3 ledger levels, one task each, k = 1
    assert all(r.error is None for r in result.records)
    assert {r.mode for r in result.records} == {"fast", "deep"}
    assert all(r.meter["tokens_estimated"] is False for r in result.records)
    assert any(r.meter["thinking_tokens"] > 0 for r in result.records if r.model == "deep")
    assert all(r.meter["thinking_tokens"] == 0 for r in result.records if r.model == "fast")
    assert {s.model for s in result.headline} == {"fast", "deep"}
    assert (tmp_path / "report.html").exists() and (tmp_path / "summary.csv").exists()
