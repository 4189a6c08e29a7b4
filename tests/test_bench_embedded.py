"""One small time-to-correct run on the embedded model, which ships with the package."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from ponder.bench.correct import CorrectSettings, run_correct
from ponder.config import Config, default_models
from ponder.registry import create_provider


def test_the_embedded_model_ships_and_is_usable() -> None:
    """The model ships inside the package: its absence is a failure that says why, not a skip."""

    async def check() -> tuple[bool, str]:
        provider = create_provider(default_models()["fast"])
        try:
            availability = await provider.check()
        finally:
            await provider.aclose()
        return availability.usable, availability.detail

    usable, detail = asyncio.run(check())
    assert usable, f"the embedded model is not usable: {detail}"


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
