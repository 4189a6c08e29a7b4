"""What every HTTP provider shares, exactly: error messages read from each API's error body,
Retry-After in its three spellings, transport failures worded by when they happened, the SSE
and NDJSON parsers on awkward byte boundaries, and the provider base (base URL, key, readiness
probe, a client made again after closing). In-process against the replay server, without the
engine's retry back-off, so ``benchmarks/mutation.py`` can run them per mutant."""

from __future__ import annotations

import datetime
import email.utils
import json
from typing import Any

import aiohttp
import httpx
import pytest

from ponder.config import ModelConfig, parse_config
from ponder.errors import (
    ConfigError,
    MissingKeyError,
    StreamBrokenError,
    UpstreamError,
    UpstreamUnreachableError,
)
from ponder.providers import bodies, http
from ponder.providers.base import Availability
from ponder.providers.openai import OpenAIProvider
from tests.provider_exact import KEY, KEY_ENV
from tests.replay import ReplayServer, Reply, json_reply

WHO = "model 'm' (h)"


# -- error bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": {"message": "bad", "type": "invalid_request_error"}}',
         "bad (invalid_request_error)"),
        (b'{"error": {"message": "bad", "code": "E1"}}', "bad (E1)"),
        (b'{"error": {"message": "bad E1 here", "code": "E1"}}', "bad E1 here"),
        (b'{"error": {"message": "bad", "type": "", "code": "E2"}}', "bad (E2)"),
        (b'{"error": {"message": "bad", "code": 429}}', "bad"),
        (b'{"error": {"detail": "via detail"}}', "via detail"),
        (b'{"error": {"msg": "via msg"}}', "via msg"),
        (b'{"error": {"message": 5}, "detail": "top detail"}', "top detail"),
        (b'{"error": "plain string"}', "plain string"),
        (b'{"message": "no error key", "type": "t"}', "no error key (t)"),
        (b'{"detail": [1]}', '{"detail": [1]}'),
        (b'[1, 2]', "[1, 2]"),
        (b"  not json \n  at all ", "not json at all"),
        (b"", "Fallback"),
        (b"   ", "Fallback"),
        (b"\xff\xfe oops", "\ufffd\ufffd oops"),
    ],
)  # fmt: skip
def test_error_message(body: bytes, message: str) -> None:
    assert http.error_message(body, "Fallback") == message


def test_error_messages_are_capped_at_400_characters() -> None:
    assert http.error_message(b"x" * 400, "") == "x" * 400
    assert http.error_message(b"x" * 401, "") == "x" * 400 + "…"


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({}, None),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": " 2.5 "}, 2.5),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after-ms": "-5"}, 0.0),
        ({"retry-after-ms": "soon", "retry-after": "4"}, 4.0),
        ({"retry-after-ms": " ", "retry-after": "4"}, 4.0),
        ({"retry-after": "whenever"}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
    ],
)
def test_retry_after(headers: dict[str, str], wait: float | None) -> None:
    assert http.retry_after_s(headers) == wait


def test_retry_after_as_a_future_date() -> None:
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=120)
    wait = http.retry_after_s({"retry-after": email.utils.format_datetime(when, usegmt=True)})
    assert wait is not None and 100 < wait <= 120
    naive = when.replace(tzinfo=None).strftime("%a, %d %b %Y %H:%M:%S")  # no zone: UTC
    wait = http.retry_after_s({"retry-after": naive})
    assert wait is not None and 100 < wait <= 120


def test_a_status_error_says_what_the_server_said_and_when_to_retry() -> None:
    body = json.dumps({"error": {"message": f"slow down {KEY}", "type": "rate_limit"}}).encode()
    error = http._status_error(WHO, 429, "Too Many Requests", {"retry-after": "2"}, body, [KEY])
    assert (error.status, error.retry_after_s, error.retryable) == (429, 2.0, True)
    assert error.message == (
        f"{WHO} returned HTTP 429: slow down [redacted] (rate_limit) (retry after 2 s)"
    )
    bare = http._status_error(WHO, 503, "Service Unavailable", {}, b"", [None])
    assert (bare.message, bare.retry_after_s) == (
        f"{WHO} returned HTTP 503: Service Unavailable", None
    )
    nothing = http._status_error(WHO, 500, "", {}, b"", [])
    assert nothing.message == f"{WHO} returned HTTP 500: no message"
    response = httpx.Response(418, headers={"retry-after-ms": "250"})
    teapot = http.upstream_error(WHO, response, b"", [])
    assert teapot.message == f"{WHO} returned HTTP 418: I'm a teapot (retry after 0.25 s)"


def test_transport_errors_by_when_they_happened() -> None:
    dropped = http.transport_error(WHO, aiohttp.ClientPayloadError(f"cut {KEY}"), True, [KEY])
    assert isinstance(dropped, StreamBrokenError)
    assert dropped.message == (
        f"{WHO}: the connection dropped in the middle of the stream (ClientPayloadError: cut"
        " [redacted]); the thoughts and answer that arrived are kept."
    )
    stalled = http.transport_error(WHO, TimeoutError(), True, [])
    assert stalled.message == (
        f"{WHO}: no data arrived within the read timeout in the middle of the stream"
        " (TimeoutError: TimeoutError); the thoughts and answer that arrived are kept."
    )
    late = http.transport_error(WHO, httpx.ReadTimeout("slow"), False, [])
    assert isinstance(late, UpstreamUnreachableError)
    assert late.message == f"{WHO}: timed out waiting for the server (slow)."
    refused = http.transport_error(WHO, httpx.ConnectError("refused"), False, [])
    assert refused.message == (
        f"{WHO}: cannot reach the server (ConnectError: refused). Is it running?"
    )


def test_parse_json() -> None:
    assert http.parse_json(WHO, '{"a": 1}', []) == {"a": 1}
    assert http.parse_json(WHO, b'{"a": "\xc3\xa9"}', []) == {"a": "é"}
    # what orjson refuses and json reads
    nan = http.parse_json(WHO, '{"a": NaN}', [])["a"]
    assert nan != nan
    with pytest.raises(StreamBrokenError) as garbled:
        http.parse_json(WHO, b"{" + KEY.encode() + b"x" * 200, [KEY])
    sample = ("{[redacted]" + "x" * 200)[: 1 + len("[redacted]") + 120 - 1 - len(KEY)]
    assert garbled.value.message == (
        f"{WHO}: malformed chunk in the stream (not JSON): {sample!r}; the thoughts and answer"
        " that arrived are kept."
    )
    with pytest.raises(StreamBrokenError) as listed:
        http.parse_json(WHO, b"[1]", [])
    assert listed.value.message == (
        f"{WHO}: malformed chunk in the stream (not a JSON object): '[1]'; the thoughts and"
        " answer that arrived are kept."
    )
    with pytest.raises(StreamBrokenError, match=r"\(not a JSON object\): '3'"):
        http.parse_json(WHO, "3", [])
    # a sample that is not UTF-8 is shown with replacement characters
    with pytest.raises(StreamBrokenError, match="not JSON\\): '\ufffd\\{'"):
        http.parse_json(WHO, b"\xff{", [])
    with pytest.raises(StreamBrokenError, match="not JSON\\): '\"\ufffd\"'"):
        http.parse_json(WHO, b'"\xff"', [])


# -- the client and the provider base ----------------------------------------------------------


def model(**table: Any) -> ModelConfig:
    entry = {"provider": "openai", "base_url": "http://h:1/v1/", **table}
    return parse_config({"models": {"m": entry}}).model("m")


def test_the_client() -> None:
    client = http.make_client(model(timeout_s=30), "http://h:1/v1/", {"x-a": "b"})
    assert str(client.base_url) == "http://h:1/v1/"
    assert client.headers["x-a"] == "b"
    assert (client.timeout.read, client.timeout.connect) == (30.0, 10.0)
    quick = http.make_client(model(timeout_s=4), "http://h:1", None)
    assert (quick.timeout.read, quick.timeout.connect) == (4.0, 4.0)
    tuned = http.make_client(model(retries={}, timeouts={"connect_ms": 2500}), "http://h", {})
    assert tuned.timeout.connect == 2.5
    assert http.label(model(), "http://h:1/v1") == "model 'm' (h:1)"
    assert http.label(model(), "nohost") == "model 'm' (nohost)"


async def test_the_provider_base(monkeypatch: pytest.MonkeyPatch) -> None:
    p = OpenAIProvider(model(api_key_env=KEY_ENV))
    assert (p.base_url, p.who) == ("http://h:1/v1", "model 'm' (h:1)")
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(MissingKeyError) as missing:
        p.credentials()
    assert missing.value.env_var == KEY_ENV
    assert await p.check() == Availability(
        False, f"Model 'm' needs an API key: set the environment variable {KEY_ENV}."
    )
    monkeypatch.setenv(KEY_ENV, KEY)
    assert p.credentials() == ({"Authorization": f"Bearer {KEY}"}, [KEY])
    keyless = OpenAIProvider(model())
    assert keyless.credentials() == ({}, [None])
    first = p.client
    assert p.client is first
    await p.aclose()
    assert p.client is not first and not p.client.is_closed  # made again after closing
    await p.aclose()
    await p.aclose()  # closing twice is harmless


def test_a_base_url_is_needed() -> None:
    class Nowhere(http.HTTPProvider):
        async def generate(self, request: Any) -> Any:  # pragma: no cover - never called
            yield None

    with pytest.raises(ConfigError) as caught:
        Nowhere(ModelConfig("m", "x"))
    assert caught.value.message == '[models.m] needs base_url = "http…".'
    assert Nowhere(ModelConfig("m", "x", base_url="http://a/")).base_url == "http://a"
    assert Nowhere.probe_path == "/models" and Nowhere.default_base_url == ""


async def test_the_readiness_probe(replay: ReplayServer) -> None:
    client = httpx.AsyncClient(base_url=replay.url)
    try:
        replay.route("GET", "/models", json_reply(200, {"data": []}))
        assert await http.probe(client, "/models", WHO, [], {"x-k": "v"}) == (True, "ready")
        assert replay.requests[-1].headers["x-k"] == "v"
        replay.route("GET", "/models", json_reply(401, {"error": {"message": f"no {KEY}"}}))
        assert await http.probe(client, "/models", WHO, [KEY]) == (
            False, f"{WHO} returned HTTP 401: no [redacted]"
        )
        replay.route("GET", "/models", json_reply(400, {"error": {"message": "bad"}}))
        assert await http.probe(client, "/models", WHO, []) == (
            False, f"{WHO} returned HTTP 400: bad"
        )
        replay.route("GET", "/models", json_reply(399, {}))
        assert await http.probe(client, "/models", WHO, []) == (True, "ready")
        closed = httpx.AsyncClient(base_url="http://127.0.0.1:9")
        usable, detail = await http.probe(closed, "/models", WHO, [])
        assert usable is False
        assert detail.startswith(f"{WHO}: cannot reach the server (ConnectError: ")
        await closed.aclose()
    finally:
        await client.aclose()


# -- requests and their parsers ----------------------------------------------------------------


@pytest.fixture
async def client(replay: ReplayServer) -> Any:
    c = httpx.AsyncClient(base_url=replay.url)
    yield c
    await http.streaming.close_session(c)
    await c.aclose()


def chunked(*chunks: bytes) -> Reply:
    """Each chunk 5 ms after the last, so the client reads them one by one."""
    return Reply(chunks=[(5.0 * i, c) for i, c in enumerate(chunks)])


async def sse(client: httpx.AsyncClient, replay: ReplayServer, *chunks: bytes) -> list[Any]:
    replay.route("POST", "/s", chunked(*chunks))
    source = bodies.sse_events(client, "POST", "/s", {"q": 1}, WHO, [KEY], {"x-h": "1"})
    return [(e.event, e.data) async for e in source]


async def test_sse_fields(replay: ReplayServer, client: httpx.AsyncClient) -> None:
    events = await sse(
        client,
        replay,
        b": a comment\n\n",
        b"event: ping\ndata: {}\n\n",
        b"data: one\ndata:two\ndata:  three\n\n",
        b"id: 7\nretry: 10\ndata: x\r\n\r\n",
        b"event: only-event\n\n",
        b"\n\n",
        b"data: last",
    )
    assert events == [
        ("ping", "{}"),
        ("message", "one\ntwo\n three"),
        ("message", "x"),
        ("message", "last"),
    ]
    sent = replay.requests[-1]
    assert sent.json() == {"q": 1} and sent.headers["x-h"] == "1"


async def test_sse_field_lines(replay: ReplayServer, client: httpx.AsyncClient) -> None:
    events = await sse(
        client,
        replay,
        b":\n",  # a bare comment
        b"event: e\nid: 1\ndata:a:b\n\n",  # a field between event and data keeps the event
        b"data: \xff\nevent:\xfe\ndata:\xfd\n\n",  # not UTF-8: replaced
    )
    assert events == [("e", "a:b"), ("\ufffd", "\ufffd\n\ufffd")]


async def test_sse_last_event_without_a_blank_line(
    replay: ReplayServer, client: httpx.AsyncClient
) -> None:
    assert await sse(client, replay, b"data: a\ndata: b \r") == [("message", "a\nb ")]
    assert await sse(client, replay, b"data: a\ndata: bX\r") == [("message", "a\nbX")]
    assert await sse(client, replay, b"data: a\ndata: \xff") == [("message", "a\n\ufffd")]


async def test_sse_across_any_byte_boundary(
    replay: ReplayServer, client: httpx.AsyncClient
) -> None:
    body = "event: e\r\ndata: héllo\r\n\r\ndata: wörld\n\n".encode()
    for cut in range(1, len(body)):
        events = await sse(client, replay, body[:cut], body[cut:])
        assert events == [("e", "héllo"), ("message", "wörld")], cut


async def test_sse_unterminated_last_event(
    replay: ReplayServer, client: httpx.AsyncClient
) -> None:
    assert await sse(client, replay, b"data: a\n\nevent: end\ndata:b\r") == [
        ("message", "a"),
        ("end", "b"),
    ]
    assert await sse(client, replay, b"data: a\n\nevent: end") == [("message", "a")]
    assert await sse(client, replay, b"data: a\n\n: comment") == [("message", "a")]


async def ndjson(client: httpx.AsyncClient, replay: ReplayServer, *chunks: bytes) -> list[Any]:
    # 5 ms apart, so the client reads them one by one
    replay.route("POST", "/n", Reply(chunks=[(5.0 * i, c) for i, c in enumerate(chunks)]))
    source = bodies.ndjson_objects(client, "POST", "/n", {"n": 1}, WHO, [KEY], {"x-n": "1"})
    return [o async for o in source]


async def test_ndjson_lines(replay: ReplayServer, client: httpx.AsyncClient) -> None:
    lines = await ndjson(client, replay, b'{"a": 1}\n\n  \r\n{"b": "\xc3', b'\xa9"}\r\n{"c": 3}')
    assert lines == [{"a": 1}, {"b": "é"}, {"c": 3}]
    assert replay.requests[-1].headers["x-n"] == "1"
    assert replay.requests[-1].json() == {"n": 1}
    # bytes that are not UTF-8 are replaced, not fatal
    assert await ndjson(client, replay, b'{"d": "\xff"}\n{"e": "\xfe"}') == [
        {"d": "\ufffd"}, {"e": "\ufffd"}
    ]
    with pytest.raises(StreamBrokenError) as garbled:
        await ndjson(client, replay, b'{"a": 1}\n{' + KEY.encode() + b"\n")
    assert garbled.value.message == (
        f"{WHO}: malformed chunk in the stream (not JSON): '{{[redacted]'; the thoughts and"
        " answer that arrived are kept."
    )


async def test_stream_errors(replay: ReplayServer, client: httpx.AsyncClient) -> None:
    replay.route("POST", "/s", json_reply(429, {"error": {"message": "wait"}},
                                          {"retry-after": "3", "retry-after-ms": "1200"}))
    with pytest.raises(UpstreamError) as status:
        [e async for e in bodies.sse_events(client, "POST", "/s", {}, WHO, [])]
    assert (status.value.status, status.value.retry_after_s) == (429, 1.2)
    assert status.value.message == f"{WHO} returned HTTP 429: wait (retry after 1.2 s)"
    replay.route("POST", "/n", json_reply(500, {"error": f"boom {KEY}"}))
    with pytest.raises(UpstreamError) as lines:
        [o async for o in bodies.ndjson_objects(client, "POST", "/n", {}, WHO, [KEY])]
    assert lines.value.message == f"{WHO} returned HTTP 500: boom [redacted]"
    replay.route("POST", "/s", Reply(chunks=[(0.0, b"data: a\n\n")], drop=True))
    with pytest.raises(StreamBrokenError) as dropped:
        [e async for e in bodies.sse_events(client, "POST", "/s", {}, WHO, [])]
    assert dropped.value.message.startswith(
        f"{WHO}: the connection dropped in the middle of the stream ("
    )
    nowhere = httpx.AsyncClient(base_url="http://127.0.0.1:9")
    try:
        with pytest.raises(UpstreamUnreachableError) as unreachable:
            [e async for e in bodies.sse_events(nowhere, "POST", "/s", {}, WHO, [])]
        assert unreachable.value.message.startswith(f"{WHO}: cannot reach the server (")
        assert unreachable.value.message.endswith("). Is it running?")
    finally:
        await http.streaming.close_session(nowhere)
        await nowhere.aclose()


async def test_request_json(replay: ReplayServer, client: httpx.AsyncClient) -> None:
    replay.route("POST", "/j", json_reply(200, {"ok": True}))
    assert await http.request_json(client, "POST", "/j", {"a": 1}, WHO, [], {"x": "y"}) == {
        "ok": True
    }
    sent = replay.requests[-1]
    assert sent.json() == {"a": 1} and sent.headers["x"] == "y"
    replay.route("POST", "/j", json_reply(400, {"error": {"message": f"no {KEY}"}}))
    with pytest.raises(UpstreamError) as refused:
        await http.request_json(client, "POST", "/j", {}, WHO, [KEY])
    assert refused.value.message == f"{WHO} returned HTTP 400: no [redacted]"
    replay.route("POST", "/j", Reply(200, [(0.0, b"[1]")], "application/json"))
    with pytest.raises(StreamBrokenError) as listed:
        await http.request_json(client, "POST", "/j", {}, WHO, [])
    assert listed.value.message.startswith(f"{WHO}: malformed chunk in the stream (not a JSON")
    nowhere = httpx.AsyncClient(base_url="http://127.0.0.1:9")
    try:
        with pytest.raises(UpstreamUnreachableError) as unreachable:
            await http.request_json(nowhere, "POST", "/j", {}, WHO, [])
        assert unreachable.value.message.startswith(f"{WHO}: cannot reach the server (Connect")
    finally:
        await nowhere.aclose()


async def test_check_probes_with_the_key(
    replay: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    p = OpenAIProvider(model(base_url=replay.url + "/v1", api_key_env=KEY_ENV))
    try:
        assert p._client is not None  # made with the provider, not on the first request
        replay.route("GET", "/v1/models", json_reply(200, {"data": []}))
        assert await p.check() == Availability(True, "ready")
        assert replay.requests[-1].headers["authorization"] == f"Bearer {KEY}"
        replay.route("GET", "/v1/models", json_reply(403, {"error": {"message": f"no {KEY}"}}))
        assert await p.check() == Availability(
            False, f"model 'm' (127.0.0.1:{replay.port}) returned HTTP 403: no [redacted]"
        )
    finally:
        await p.aclose()


def test_a_base_url_loses_only_its_trailing_slashes() -> None:
    assert OpenAIProvider(model(base_url="http://h/apiX//")).base_url == "http://h/apiX"
