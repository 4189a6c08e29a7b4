"""Where ponder finds its config and its trace store, each lookup with a test that fails if it
is skipped: ``--config``, ``$PONDER_CONFIG``, ``./ponder.toml``; ``--db``, ``$PONDER_DB``, the
default path, ``--no-store``; and a ``--db`` URL of an unsupported scheme is refused."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ponder.cli import main
from ponder.config import CONFIG_ENV, load_config
from ponder.errors import ConfigError
from ponder.store.dsn import DB_ENV, make_store, resolve_dsn
from tests.gateway_harness import serve_subprocess, write_config


def config_naming(directory: Path, name: str) -> Path:
    """A ponder.toml whose only extra model is called ``name``: it says which file was read."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ponder.toml"
    path.write_text(f'[models.{name}]\nprovider = "scripted"\n', encoding="utf-8")
    return path


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Three configs (flag, env, working directory); cwd is the third's folder, env unset."""
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    found = {name: config_naming(tmp_path / name, name) for name in ("flag", "env", "cwd")}
    monkeypatch.chdir(found["cwd"].parent)
    return found


def extra_models(path: str | Path | None = None) -> set[str]:
    return set(load_config(path).models) - {"fast", "deep", "hedge"}


def test_the_working_directory_ponder_toml_is_read(places: dict[str, Path]) -> None:
    assert extra_models() == {"cwd"}


def test_ponder_config_env_wins_over_the_working_directory(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(places["env"]))
    assert extra_models() == {"env"}


def test_an_explicit_path_wins_over_the_env(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(places["env"]))
    assert extra_models(places["flag"]) == {"flag"}


def test_no_file_anywhere_means_the_built_in_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert set(load_config().models) == {"fast", "deep", "hedge"}


def test_a_missing_env_config_is_an_error_not_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match=r"gone\.toml' does not exist"):
        load_config()


def test_the_cli_flag_reaches_the_command(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(places["env"]))
    assert main(["--config", str(places["flag"]), "models", "--timeout", "1"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()[1:] if line}
    assert "flag" in listed and not {"env", "cwd"} & listed


def test_the_cli_reads_the_env_without_a_flag(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(places["env"]))
    assert main(["models", "--timeout", "1"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()[1:] if line}
    assert "env" in listed and "cwd" not in listed


# -- the trace store ---------------------------------------------------------------------------


@pytest.fixture
def no_db_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)


def test_db_flag_is_the_store(no_db_env: None, tmp_path: Path) -> None:
    assert resolve_dsn(str(tmp_path / "mine.db")) == str(tmp_path / "mine.db")


def test_ponder_db_env_is_the_store_without_a_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DB_ENV, str(tmp_path / "env.db"))
    assert resolve_dsn(None) == str(tmp_path / "env.db")
    assert resolve_dsn(str(tmp_path / "flag.db")) == str(tmp_path / "flag.db")


def test_default_store_is_under_xdg_data_home(
    no_db_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert resolve_dsn(None) == str(tmp_path / "data" / "ponder" / "traces.db")


def test_default_store_without_xdg_is_under_home(
    no_db_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_dsn(None) == str(tmp_path / ".local" / "share" / "ponder" / "traces.db")


@pytest.mark.parametrize("url", ["postgresql://u@db/ponder", "postgres://db/ponder"])
def test_postgresql_urls_are_passed_on_as_urls(url: str) -> None:
    assert resolve_dsn(url) == url
    assert type(make_store(url)).__name__ == "PostgresStore"  # not opened: no connection yet


@pytest.mark.parametrize("url", ["mysql://u@db/ponder", "redis://cache:6379", "sqlite+x://a"])
def test_an_unsupported_db_url_is_refused_by_name(url: str) -> None:
    scheme = url.split("://")[0]
    with pytest.raises(ConfigError) as info:
        make_store(url)
    assert info.value.message == (
        f"Unknown trace store {scheme!r} in --db: use a file path for SQLite,"
        " or postgresql://, postgres://."
    )


def test_serve_refuses_an_unsupported_db_url_and_creates_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["serve", "--db", "mysql://root@localhost/ponder"]) == 1
    assert "Unknown trace store 'mysql' in --db" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_traces_refuses_an_unsupported_db_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["traces", "--db", "mysql://root@localhost/ponder"]) == 1
    assert "Unknown trace store 'mysql' in --db" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_no_store_keeps_no_traces(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    with serve_subprocess(write_config(tmp_path), db, "--no-store") as served:
        body = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}
        response = httpx.post(served.base_url + "/v1/chat/completions", json=body, timeout=30)
        assert response.status_code == 200
        traces = httpx.get(served.base_url + "/api/traces", timeout=10)
        assert traces.json()["data"] == []
    assert "traces: off" in served.log_text()
    assert not db.exists()
