"""The trace store behind its one interface: the same behaviour on SQLite and PostgreSQL.

PostgreSQL here is a real server (``tests/pg.py`` starts it); every test gets a fresh
database. Migrations, round trips, filters, idempotent writes, ``ponder traces`` and
``ponder db migrate`` are checked on both backends.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ponder.cli import main
from ponder.errors import ConfigError
from ponder.store import TraceQuery, make_store, migrate_store, read_traces
from ponder.store.postgres import redact_dsn
from ponder.store.postgres_migrations import MIGRATIONS as PG_MIGRATIONS
from ponder.store.record import ReasoningRecord, ResponseRecord
from tests.test_store import record


@pytest.fixture(params=["sqlite", "postgres"])
def dsn(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "traces.db")
    pg: str = request.getfixturevalue("pg_dsn")
    return pg


def write(dsn: str, records: list) -> None:  # type: ignore[type-arg]
    async def go() -> None:
        store = make_store(dsn)
        await store.open()
        try:
            await store.write(records)
        finally:
            await store.close()

    asyncio.run(go())


def test_round_trip_keeps_every_field(dsn: str) -> None:
    original = record(
        7, error_side="upstream", error_code="x", error_message="m", max_ttfa_ms=5.0,
        input_tokens=12, itl_p99_ms=3.5, decode_tps=100.25,
    )  # fmt: skip
    write(dsn, [original, record(8)])
    assert read_traces(dsn, TraceQuery(request_id="req_0007")) == [original]


def test_queries_filter_and_order_newest_first(dsn: str) -> None:
    write(dsn, [record(n) for n in range(10)])
    write(dsn, [record(10, status="client_disconnected", model="slow")])
    ids = [r.request_id for r in read_traces(dsn, TraceQuery(limit=3))]
    assert ids == ["req_0010", "req_0009", "req_0008"]
    assert {r.mode for r in read_traces(dsn, TraceQuery(mode="deep", limit=None))} == {"deep"}
    assert [r.request_id for r in read_traces(dsn, TraceQuery(model="slow"))] == ["req_0010"]
    assert len(read_traces(dsn, TraceQuery(since=1_700_000_000.0 + 8, limit=None))) == 3
    assert len(read_traces(dsn, TraceQuery(before=1_700_000_000.0 + 2, limit=None))) == 2
    assert [r.request_id for r in read_traces(dsn, TraceQuery(text="NUMBER 4"))] == ["req_0004"]


def test_writing_a_trace_twice_keeps_one_row(dsn: str) -> None:
    write(dsn, [record(1), record(2)])
    write(dsn, [record(2), record(3)])  # a journal replayed over a half-written batch
    assert [r.request_id for r in read_traces(dsn, TraceQuery(limit=None))] == [
        "req_0003", "req_0002", "req_0001",
    ]  # fmt: skip


def test_text_with_a_nul_byte_is_stored(dsn: str) -> None:
    write(dsn, [record(1, answer="a\x00b")])
    (got,) = read_traces(dsn, TraceQuery())
    assert got.answer.startswith("a") and got.answer.endswith("b") and len(got.answer) == 3


def test_cli_lists_and_exports_on_either_backend(
    dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write(dsn, [record(n) for n in range(4)])
    assert main(["traces", "--db", dsn, "--mode", "deep"]) == 0
    out = capsys.readouterr().out
    assert "req_0003" in out and "req_0001" in out and "req_0002" not in out
    assert main(["traces", "--db", dsn, "--jsonl", "--limit", "0"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["request_id"] for r in rows] == ["req_0003", "req_0002", "req_0001", "req_0000"]
    assert rows[0]["route_estimates"] == {"deep_ttfa_ms": 900.0}


def test_db_migrate_applies_once_then_says_up_to_date(
    dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "migrate", "--db", dsn]) == 0
    first = capsys.readouterr().out
    assert first.startswith("applied ")
    assert main(["db", "migrate", "--db", dsn]) == 0
    assert "up to date" in capsys.readouterr().out
    assert migrate_store(dsn) == []


def test_postgres_migrations_are_named_recorded_and_race_free(pg_dsn: str) -> None:
    async def open_many() -> list[list[str]]:
        stores = [make_store(pg_dsn) for _ in range(4)]
        try:  # four gateways starting at once: one applies, the others wait and find it done
            return list(await asyncio.gather(*(s.open() for s in stores)))
        finally:
            await asyncio.gather(*(s.close() for s in stores))

    applied = asyncio.run(open_many())
    names = [name for name, _ in PG_MIGRATIONS]
    assert sorted(applied, key=len) == [[], [], [], names]
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT name FROM ponder_migrations ORDER BY name").fetchall()
        assert [r[0] for r in rows] == names
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_name = 'traces'"
            ).fetchall()
        )
    assert types["route_estimates"] == "jsonb" and types["stream"] == "boolean"
    assert len(set(names)) == len(names) and names == sorted(names)


def test_unreachable_postgres_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.gateway_harness import free_port

    dsn = f"postgresql://nobody:s3cret@127.0.0.1:{free_port()}/x"
    assert main(["traces", "--db", dsn]) == 1
    err = capsys.readouterr().err
    assert "Cannot read the trace store" in err and "s3cret" not in err and "***" in err


def test_unknown_scheme_says_what_is_known() -> None:
    with pytest.raises(ConfigError, match="postgresql://"):
        make_store("mysql://x/y")


def test_redact_dsn_hides_only_the_password() -> None:
    assert redact_dsn("postgresql://u:pw@h:5/db") == "postgresql://u:***@h:5/db"
    assert redact_dsn("postgresql://u@h/db") == "postgresql://u@h/db"


def test_reasoning_rows_round_trip_and_the_latest_turn_wins(dsn: str) -> None:
    first = ReasoningRecord("call_1", "req_a", 100.0, '[{"kind": "reasoning", "sig": "s1"}]')
    newer = ReasoningRecord("call_1", "req_b", 200.0, '[{"kind": "reasoning", "sig": "s2"}]')
    other = ReasoningRecord("call_2", "req_a", 100.0, "[]")

    async def go() -> tuple[list[ReasoningRecord], list[ReasoningRecord]]:
        store = make_store(dsn)
        await store.open()
        try:
            await store.write_reasoning([first, other])
            await store.write_reasoning([newer])
            await store.write_reasoning([first])  # a late journal replay of the older turn
            found = await store.find_reasoning(["call_1", "call_2", "call_9"])
            return sorted(found, key=lambda r: r.call_id), await store.find_reasoning([])
        finally:
            await store.close()

    found, none = asyncio.run(go())
    assert found == [newer, other]  # the older replay did not overwrite the newer turn
    assert none == []


def test_stored_responses_and_the_door_round_trip(dsn: str) -> None:
    """A Responses API conversation (previous_response_id) and a trace's front door."""
    first = ResponseRecord("resp_1", "req_1", 1.0, '[{"role": "user", "parts": []}]')
    again = ResponseRecord("resp_1", "req_1", 1.0, first.messages)  # a journal replay

    async def go() -> tuple[ResponseRecord | None, ResponseRecord | None]:
        store = make_store(dsn)
        await store.open()
        try:
            await store.write_responses([first])
            await store.write_responses([again])
            return await store.find_response("resp_1"), await store.find_response("resp_9")
        finally:
            await store.close()

    assert asyncio.run(go()) == (first, None)
    write(dsn, [record(3, door="messages")])
    assert read_traces(dsn, TraceQuery(request_id="req_0003"))[0].door == "messages"


def test_the_journal_keeps_traces_and_reasoning_and_what_came_after_a_load(
    tmp_path: Path,
) -> None:
    from ponder.store.journal import Journal

    journal = Journal(tmp_path / "j", limit=5)
    items = [
        record(1), ReasoningRecord("call_1", "req_0001", 1.0, '["x"]'),
        ResponseRecord("resp_1", "req_0001", 1.0, "[]"), record(2),
    ]  # fmt: skip
    assert journal.append(items) == 4
    loaded, end = journal.load()
    assert loaded == items
    assert journal.append([record(3), record(5)]) == 1  # the limit: 5 in all
    journal.consume(end)  # what was loaded is in the store; what came after stays
    assert journal.load()[0] == [record(3)] and journal.count == 1
    with (tmp_path / "j" / "journal-0.jsonl").open("a") as f:
        f.write('{"request_id": "torn')  # a crash mid-line
    assert Journal(tmp_path / "j2").count == 0  # another slot's directory: its own file
    second = Journal(tmp_path / "j")  # the first still holds journal-0: this takes slot 1
    assert second.path.name == "journal-1.jsonl"
    journal.close()
    third = Journal(tmp_path / "j")  # slot 0 free again: the torn line is skipped, not fatal
    assert third.path.name == "journal-0.jsonl" and third.load()[0] == [record(3)]


def test_serve_on_an_unreachable_database_fails_at_start_saying_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.gateway_harness import free_port, write_config

    dsn = f"postgresql://ponder:hunter22@127.0.0.1:{free_port()}/ponder"
    config = str(write_config(tmp_path))
    assert main(["--config", config, "serve", "--port", str(free_port()), "--db", dsn]) == 1
    err = capsys.readouterr().err
    assert "Cannot open the trace store" in err and "--no-store" in err
    assert "hunter22" not in err


def test_ponder_chat_records_its_request_on_either_backend(
    dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.gateway_harness import write_config

    config = str(write_config(tmp_path))
    assert main(["--config", config, "chat", "-m", "fast", "--db", dsn, "capital of France?"]) == 0
    assert "Paris" in capsys.readouterr().out
    (trace,) = read_traces(dsn, TraceQuery())
    assert trace.requested_model == "fast" and trace.status == "ok"
    assert trace.prompt == "capital of France?"


def test_costs_sort_filter_and_sum_by_model(dsn: str) -> None:
    write(dsn, [
        record(1, cost_usd=0.002, cost_thinking_usd=0.0015, cost_estimated=True),
        record(2, cost_usd=None),
        record(3, cost_usd=0.010),
        record(5, cost_usd=0.001, created_at=1_600_000_000.0),  # an earlier day
    ])  # fmt: skip
    dearest = read_traces(dsn, TraceQuery(sort="cost", limit=None))
    assert [r.request_id for r in dearest] == ["req_0003", "req_0001", "req_0005", "req_0002"]
    assert dearest[1].cost_thinking_usd == 0.0015 and dearest[1].cost_estimated is True
    costly = read_traces(dsn, TraceQuery(min_cost_usd=0.002, limit=None))
    assert {r.request_id for r in costly} == {"req_0001", "req_0003"}

    async def spent() -> float:
        store = make_store(dsn)
        await store.open()
        try:
            return await store.spend_since("deep", 1_700_000_000.0)  # odd ids are deep
        finally:
            await store.close()

    assert asyncio.run(spent()) == pytest.approx(0.012)


def test_a_conversations_turns_are_found_by_its_id(dsn: str) -> None:
    write(dsn, [
        record(1, conversation_id="c_one"), record(2, conversation_id="c_two"),
        record(3, conversation_id="c_one"), record(4),
    ])  # fmt: skip
    turns = read_traces(dsn, TraceQuery(conversation_id="c_one", limit=None))
    assert [r.request_id for r in turns] == ["req_0003", "req_0001"]  # newest first
    assert turns[0].conversation_id == "c_one"
    assert read_traces(dsn, TraceQuery(request_id="req_0004"))[0].conversation_id is None


def _conversations(dsn: str, limit: int = 10, before: float | None = None) -> list[Any]:
    async def go() -> list[Any]:
        store = make_store(dsn)
        await store.open()
        try:
            return list(await store.conversations(limit, before))
        finally:
            await store.close()

    return asyncio.run(go())


def _delete(dsn: str, conversation_id: str) -> int:
    async def go() -> int:
        store = make_store(dsn)
        await store.open()
        try:
            return await store.delete_conversation(conversation_id)
        finally:
            await store.close()

    return asyncio.run(go())


def test_conversations_are_listed_most_recent_first_titled_by_their_first_turn(
    dsn: str,
) -> None:
    write(dsn, [
        record(1, conversation_id="c_a", turn_index=0, prompt="first of a"),
        record(2, conversation_id="c_b", turn_index=0, prompt="first of b"),
        record(3, conversation_id="c_a", turn_index=1, prompt="second of a"),
        record(4, conversation_id="c_b", turn_index=0, prompt="b, edited"),  # edit-and-resend
        record(5),  # no conversation: not listed
        record(6, conversation_id="c_old", prompt="older client, first"),  # no turn index
        record(7, conversation_id="c_old", prompt="older client, second"),
    ])  # fmt: skip
    listed = _conversations(dsn)
    assert [(c.id, c.title) for c in listed] == [
        ("c_old", "older client, first"), ("c_b", "b, edited"), ("c_a", "first of a"),
    ]  # fmt: skip
    c_b = listed[1]
    assert (c_b.created_at, c_b.updated_at, c_b.requests) == (1_700_000_002.0, 1_700_000_004.0, 2)
    assert [c.id for c in _conversations(dsn, limit=1)] == ["c_old"]
    assert [c.id for c in _conversations(dsn, before=c_b.updated_at)] == ["c_a"]  # next page
    (trace,) = read_traces(dsn, TraceQuery(request_id="req_0003"))
    assert trace.turn_index == 1


def test_deleting_a_conversation_removes_its_traces_and_no_other(dsn: str) -> None:
    write(dsn, [
        record(1, conversation_id="c_a"), record(2, conversation_id="c_b"),
        record(3, conversation_id="c_a"), record(4),
    ])  # fmt: skip
    assert _delete(dsn, "c_a") == 2
    assert _delete(dsn, "c_a") == 0  # already gone
    assert [r.request_id for r in read_traces(dsn, TraceQuery(limit=None))] == [
        "req_0004", "req_0002",
    ]  # fmt: skip
    assert [c.id for c in _conversations(dsn)] == ["c_b"]
