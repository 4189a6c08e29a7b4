"""The conversations endpoints over real HTTP (a gateway on loopback, the scripted models),
on both trace-store backends: turns recorded by x-ponder-conversation and x-ponder-turn,
regenerate in another mode, edit-and-resend, the list, delete, and clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ponder.config import load_config
from ponder.server import ServerSettings, create_app
from ponder.store.writer import TraceWriter
from tests.gateway_harness import ThreadServer, write_config

CONVERSATION = "x-ponder-conversation"
TURN = "x-ponder-turn"


@pytest.fixture(params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, TraceWriter]]:
    dsn: str = str(tmp_path / "traces.db")
    if request.param == "postgres":
        dsn = request.getfixturevalue("pg_dsn")
    writer = TraceWriter(dsn, journal_dir=tmp_path / "journal")
    app = create_app(load_config(write_config(tmp_path)), ServerSettings(), writer=writer)
    with ThreadServer(app) as server:
        yield server.base_url, writer


def ask(base: str, prompt: str, model: str, conversation: str | None, turn: int | None) -> str:
    headers = {}
    if conversation is not None:
        headers["x-ponder-conversation"] = conversation
    if turn is not None:
        headers["x-ponder-turn"] = str(turn)
    chat = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    response = httpx.post(f"{base}/v1/chat/completions", json=chat, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    request_id: str = response.headers["x-ponder-request-id"]
    return request_id


def turns(base: str, conversation: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base}/api/conversations/{conversation}")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["turns"]
    return found


def test_regenerate_and_edit_replace_turns_and_the_list_follows(
    served: tuple[str, TraceWriter],
) -> None:
    base, writer = served
    first = ask(base, "capital of France?", "fast", "c_one", 0)
    second = ask(base, "and of Spain?", "fast", "c_one", 1)
    other = ask(base, "a different chat", "fast", "c_two", 0)
    writer.flush()
    assert [t["request_id"] for t in turns(base, "c_one")] == [first, second]
    assert turns(base, "c_one")[1]["turn_index"] == 1

    again = ask(base, "and of Spain?", "deep", "c_one", 1)  # regenerate, in another mode
    writer.flush()
    now = turns(base, "c_one")
    assert [t["request_id"] for t in now] == [first, again]
    assert (now[1]["requested_model"], now[1]["mode"]) == ("deep", "deep")
    assert now[1]["thinking"] and now[1]["thinking_ms"] is not None  # its phases are kept
    assert httpx.get(f"{base}/api/traces/{second}").status_code == 200  # History keeps it

    edited = ask(base, "capital of Italy?", "fast", "c_one", 0)  # edit the first message
    then = ask(base, "and of Portugal?", "fast", "c_one", 1)  # the chat goes on from there
    writer.flush()
    body = httpx.get(f"{base}/api/conversations/c_one").json()
    assert [t["request_id"] for t in body["turns"]] == [edited, then]
    assert (body["title"], body["requests"]) == ("capital of Italy?", 5)

    listed = httpx.get(f"{base}/api/conversations").json()["data"]
    assert [(c["id"], c["title"]) for c in listed] == [
        ("c_one", "capital of Italy?"), ("c_two", "a different chat"),
    ]  # fmt: skip
    assert [c["id"] for c in httpx.get(f"{base}/api/conversations?limit=1").json()["data"]] == [
        "c_one"
    ]
    before = listed[0]["updated_at"]
    page = httpx.get(f"{base}/api/conversations", params={"before": before}).json()["data"]
    assert [c["id"] for c in page] == ["c_two"]
    assert turns(base, "c_two")[0]["request_id"] == other


def test_delete_removes_a_conversation_even_a_turn_that_just_finished(
    served: tuple[str, TraceWriter],
) -> None:
    base, _ = served
    ask(base, "one", "fast", "c_gone", 0)
    ask(base, "kept", "fast", "c_kept", 0)
    ask(base, "two", "fast", "c_gone", 1)  # not flushed: the delete must still find it
    deleted = httpx.delete(f"{base}/api/conversations/c_gone")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {
        "id": "c_gone", "object": "conversation.deleted", "deleted": True, "requests": 2,
    }  # fmt: skip
    gone = httpx.get(f"{base}/api/conversations/c_gone")
    assert gone.status_code == 404
    assert "No conversation 'c_gone'" in gone.json()["error"]["message"]
    assert httpx.delete(f"{base}/api/conversations/c_gone").status_code == 404
    listed = httpx.get(f"{base}/api/conversations").json()["data"]
    assert [c["id"] for c in listed] == ["c_kept"]


@pytest.mark.parametrize(
    ("headers", "needle"),
    [
        ({CONVERSATION: "no spaces/please"}, "'x-ponder-conversation' must be 1 to 64"),
        ({CONVERSATION: "c_1", TURN: "two"}, "'x-ponder-turn' must be a whole number"),
        ({CONVERSATION: "c_1", TURN: "-1"}, "'x-ponder-turn' must be a whole number"),
        ({CONVERSATION: "c_1", TURN: "10000"}, "from 0 to 9999"),
        ({TURN: "0"}, "'x-ponder-turn' needs 'x-ponder-conversation'"),
    ],
)  # fmt: skip
def test_bad_conversation_headers_are_a_clear_400(
    served: tuple[str, TraceWriter], headers: dict[str, str], needle: str
) -> None:
    base, _ = served
    chat = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(f"{base}/v1/chat/completions", json=chat, headers=headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert needle in error["message"] and error["code"] == "invalid_value"


@pytest.mark.parametrize(
    ("method", "path", "status", "needle"),
    [
        ("GET", "/api/conversations/c_never", 404, "No conversation 'c_never'"),
        ("DELETE", "/api/conversations/c_never", 404, "GET /api/conversations lists"),
        ("GET", "/api/conversations/bad%20id", 400, "'conversation_id' must be 1 to 64"),
        ("DELETE", "/api/conversations/bad%20id", 400, "'conversation_id' must be 1 to 64"),
        ("GET", "/api/conversations?limit=0", 400, "'limit' must be an integer between 1 and 200"),
        ("GET", "/api/conversations?before=yesterday", 400, "'before' must be unix seconds"),
    ],
)  # fmt: skip
def test_unknown_and_malformed_conversation_requests_say_what_went_wrong(
    served: tuple[str, TraceWriter], method: str, path: str, status: int, needle: str
) -> None:
    base, _ = served
    response = httpx.request(method, base + path)
    assert response.status_code == status
    assert needle in response.json()["error"]["message"]
