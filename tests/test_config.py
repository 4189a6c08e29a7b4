from __future__ import annotations

from pathlib import Path

import pytest

from ponder.config import load_config, parse_config
from ponder.errors import ConfigError, MissingKeyError, UnknownModelError
from ponder.request import ChatRequest, ThinkingSettings


def test_defaults_define_fast_and_deep_on_the_embedded_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PONDER_CONFIG", raising=False)
    config = load_config()
    assert config.model("fast").provider == "local"
    assert config.model("fast").thinking.enabled is False
    assert config.model("deep").thinking.enabled is True
    assert config.names() == ["auto", "deep", "fast", "hedge"]
    hedge = config.model("hedge")
    assert hedge.provider == "hedge"
    assert dict(hedge.options) == {
        "fast": "fast", "deep": "deep", "verifier": "embedded", "race": "when_it_pays"
    }


def test_file_overrides_and_adds_models(tmp_path: Path) -> None:
    path = tmp_path / "ponder.toml"
    path.write_text(
        """
[models.deep]
provider = "openai"
base_url = "https://api.moonshot.ai/v1"
model = "kimi-k2-thinking"
api_key_env = "MOONSHOT_API_KEY"
thinking = { enabled = true, budget = 8192, flavour = "deepseek" }

[models.r1]
provider = "openai"
base_url = "http://127.0.0.1:8080/v1"
thinking = { inline_tags = true, opens_in_template = true }
"""
    )
    config = load_config(path)
    deep = config.model("deep")
    assert (deep.provider, deep.upstream_model, deep.thinking.budget) == (
        "openai",
        "kimi-k2-thinking",
        8192,
    )
    assert deep.thinking.flavour == "deepseek"
    assert config.model("fast").provider == "local"  # still defined
    assert config.model("r1").thinking.opens_in_template is True
    assert config.model("r1").upstream_model == "r1"


def test_unknown_model_lists_known_ones() -> None:
    config = parse_config({})
    with pytest.raises(UnknownModelError) as err:
        config.model("gpt-9")
    assert "auto, deep, fast" in err.value.message


def test_secret_in_file_is_refused() -> None:
    with pytest.raises(ConfigError, match="api_key_env"):
        parse_config({"models": {"x": {"provider": "openai", "api_key": "sk-123"}}})


@pytest.mark.parametrize(
    "table, fragment",
    [
        ({"provider": ""}, "needs provider"),
        ({"provider": "openai", "thinking": {"flavour": "nope"}}, "flavour"),
        ({"provider": "openai", "thinking": {"effort": "max"}}, "effort"),
        ({"provider": "openai", "thinking": {"budget": -1}}, "budget"),
        ({"provider": "openai", "thinking": {"colour": 1}}, "unknown keys"),
    ],
)
def test_malformed_model_tables_say_what_is_wrong(table: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_config({"models": {"x": table}})


def test_auto_is_reserved() -> None:
    with pytest.raises(ConfigError, match="reserved"):
        parse_config({"models": {"auto": {"provider": "openai"}}})


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_broken_toml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "ponder.toml"
    path.write_text("[models.x\nprovider=")
    with pytest.raises(ConfigError, match="Cannot read"):
        load_config(path)


def test_key_is_read_from_the_named_env_var_only(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config({"models": {"x": {"provider": "openai", "api_key_env": "X_KEY"}}})
    monkeypatch.delenv("X_KEY", raising=False)
    assert config.model("x").api_key() is None
    monkeypatch.setenv("X_KEY", "sk-canary")
    assert config.model("x").api_key() == "sk-canary"
    assert "X_KEY" in MissingKeyError("x", "X_KEY").message


def test_request_overrides_merge_over_model_thinking() -> None:
    config = parse_config(
        {"models": {"x": {"provider": "openai", "thinking": {"budget": 100, "effort": "low"}}}}
    )
    request = ChatRequest.from_prompt("hi", thinking=ThinkingSettings(enabled=False, budget=50))
    merged = config.model("x").thinking.merged(request)
    assert (merged.enabled, merged.budget, merged.effort) == (False, 50, "low")
