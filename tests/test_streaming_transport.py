"""The streaming transport honours the proxy environment as httpx does, read once."""

from __future__ import annotations

import pytest

from ponder.providers.streaming import env_proxy


def test_env_proxy_follows_http_proxy_and_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert env_proxy("http://api.example.com/v1") is None
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert env_proxy("http://api.example.com/v1") == "http://proxy.internal:3128"
    assert env_proxy("http://127.0.0.1:8000/v1") is None
    assert env_proxy("https://api.example.com/v1") is None  # only HTTP_PROXY is set
