"""``ponder models``: each model's usability, checked for real (env var, server reachability)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.cli import main

CONFIG = """
[models.kimi]
provider = "openai"
base_url = "https://api.moonshot.ai/v1"
model = "kimi-k2-thinking"
api_key_env = "PONDER_TEST_MISSING_KEY"

[models.down]
provider = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "PONDER_TEST_PRESENT_KEY"

[models.plugin]
provider = "no-such-kind"
"""


def test_models_lists_each_with_why_it_is_unusable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PONDER_TEST_MISSING_KEY", raising=False)
    monkeypatch.setenv("PONDER_TEST_PRESENT_KEY", "sk-canary-models-1234")
    path = tmp_path / "ponder.toml"
    path.write_text(CONFIG)
    assert main(["--config", str(path), "models", "--timeout", "5"]) == 1
    out = capsys.readouterr().out
    table, _, policies = out.partition("\n\n")
    rows = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert set(rows) == {"auto", "deep", "down", "fast", "hedge", "kimi", "plugin"}
    assert "ok:" in rows["fast"] and "ok:" in rows["deep"]  # the embedded model loads
    assert "ok:" in rows["hedge"] and "races fast against deep" in rows["hedge"]
    assert "unusable" in rows["kimi"] and "PONDER_TEST_MISSING_KEY" in rows["kimi"]
    assert "unusable" in rows["down"] and "cannot reach the server" in rows["down"]
    assert "no-such-kind" in rows["plugin"] and "Available kinds" in rows["plugin"]
    assert "sk-canary-models-1234" not in out
    policy_rows = {line.split()[0]: line for line in policies.splitlines()[1:]}
    assert set(policy_rows) == {"deep", "down", "fast", "hedge", "kimi", "plugin"}
    assert "3 attempts, backoff 500-8000 ms" in policy_rows["down"]  # the defaults, shown
    assert "connect 10 s" in policy_rows["down"] and "opens at 50% failures" in policy_rows["down"]
