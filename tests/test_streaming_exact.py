"""The streaming transport, exactly: the request it sends (URL, headers, the JSON encoding httpx
would use), what an error status becomes, when ``on_start`` is called, and the session it keeps
per client and event loop. Against the in-process replay server, so it is fast enough for
``benchmarks/mutation.py`` to run per mutant."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from ponder.providers import streaming
from tests.replay import ReplayServer, Reply


async def send(
    client: httpx.AsyncClient,
    body: Mapping[str, Any] | None,
    headers: Mapping[str, str] | None = None,
    path: str = "/v1/x",
    method: str = "POST",
) -> tuple[list[bytes], int]:
    starts = 0

    def on_start() -> None:
        nonlocal starts
        starts += 1

    chunks = [
        c async for c in streaming.stream_bytes(client, method, path, body, headers, on_start)
    ]
    return chunks, starts


@pytest.fixture
async def client(replay: ReplayServer) -> Any:
    c = httpx.AsyncClient(
        base_url=replay.url + "/",
        headers={"x-static": "s", "Host": "elsewhere", "Accept-Encoding": "br"},
        timeout=httpx.Timeout(7.0, connect=3.0),
    )
    yield c
    await streaming.close_session(c)
    await c.aclose()


async def test_the_request_sent(replay: ReplayServer, client: httpx.AsyncClient) -> None:
    replay.route("POST", "/v1/x", Reply(chunks=[(0.0, b"one"), (0.0, b"two")]))
    body = {"text": "déjà vu", "n": [1, 2]}
    chunks, starts = await send(client, body, {"x-key": "k", "x-static": "override"})
    assert b"".join(chunks) == b"onetwo" and starts == 1
    sent = replay.requests[0]
    assert (sent.method, sent.path) == ("POST", "/v1/x")
    # compact, UTF-8 (not \\u escapes), as httpx encodes json=
    assert sent.body == '{"text":"déjà vu","n":[1,2]}'.encode()
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["x-key"] == "k"
    assert sent.headers["x-static"] == "override"
    # httpx's own transport headers are not forwarded: aiohttp sets its own
    assert sent.headers["host"] == f"127.0.0.1:{replay.port}"
    assert sent.headers.get("accept-encoding") != "br"


async def test_no_body_no_content_type(replay: ReplayServer, client: httpx.AsyncClient) -> None:
    replay.route("GET", "/v1/x", Reply(chunks=[(0.0, b"ok")]))
    chunks, _ = await send(client, None, None, method="GET")
    assert chunks == [b"ok"]
    sent = replay.requests[0]
    assert sent.body == b"" and "content-type" not in sent.headers
    assert sent.headers["x-static"] == "s"


def test_bodies_are_encoded_as_httpx_would() -> None:
    assert streaming.encode_body({"t": "é", "n": [1, 2.5]}) == '{"t":"é","n":[1,2.5]}'.encode()
    # what orjson cannot encode goes through json, in the same compact UTF-8 form
    big = 123456789012345678901234567890
    assert streaming.encode_body({"n": big, "t": "é"}) == f'{{"n":{big},"t":"é"}}'.encode()
    assert streaming.encode_body({1: "a"}) == b'{"1":"a"}'  # type: ignore[dict-item]
    assert streaming.encode_body({"t": float("nan")}) == b'{"t":null}'


async def test_an_error_status(replay: ReplayServer, client: httpx.AsyncClient) -> None:
    error = {"error": {"message": "slow down"}}
    headers = {"Retry-After": "3", "retry-after-ms": "2500"}
    replay.route(
        "POST",
        "/v1/x",
        Reply(429, [(0.0, json.dumps(error).encode())], "application/json", headers),
    )
    with pytest.raises(streaming.StreamError) as caught:
        await send(client, {})
    e = caught.value
    assert (e.status, e.reason, e.retry_after, e.retry_after_ms) == (
        429, "Too Many Requests", "3", "2500"
    )
    assert json.loads(e.body) == error and str(e) == "HTTP 429"
    replay.route("POST", "/v1/x", Reply(400, [(0.0, b"bad")], "text/plain"))
    with pytest.raises(streaming.StreamError) as plain:
        await send(client, {})
    assert (plain.value.status, plain.value.retry_after, plain.value.retry_after_ms) == (
        400, "", ""
    )
    assert plain.value.body == b"bad"


async def test_on_start_is_called_once_the_response_started(
    replay: ReplayServer, client: httpx.AsyncClient
) -> None:
    replay.route("POST", "/v1/x", Reply(399, [(0.0, b"odd but not an error")]))
    chunks, starts = await send(client, {})
    assert (b"".join(chunks), starts) == (b"odd but not an error", 1)
    replay.route("POST", "/v1/x", Reply(500, [(0.0, b"x")]))
    started = []
    source = streaming.stream_bytes(client, "POST", "/v1/x", {}, None, lambda: started.append(1))
    with pytest.raises(streaming.StreamError):
        [c async for c in source]
    assert started == []


async def test_one_session_per_client_and_loop(client: httpx.AsyncClient) -> None:
    first, proxy = streaming._session(client)
    assert streaming._session(client) == (first, proxy)
    timeout = first.timeout
    # The read timeout is stream_bytes's own watch, not aiohttp's per-chunk timer.
    assert (timeout.total, timeout.sock_connect, timeout.sock_read) == (None, 3.0, None)
    connector = first.connector
    assert connector is not None and connector.limit == 0
    await first.close()
    second, _ = streaming._session(client)  # a closed session is replaced
    assert second is not first and not second.closed
    other = httpx.AsyncClient(base_url="http://127.0.0.1:9")
    assert streaming._session(other)[0] is not second
    await streaming.close_session(other)
    assert other not in streaming._sessions
    await streaming.close_session(client)
    assert second.closed and client not in streaming._sessions
    await streaming.close_session(client)  # nothing to close: no error


def test_a_session_of_another_loop_is_not_reused_nor_closed_there() -> None:
    c = httpx.AsyncClient(base_url="http://127.0.0.1:9")

    async def make() -> Any:
        return streaming._session(c)[0]

    old = asyncio.run(make())

    async def again() -> tuple[Any, bool]:
        new = streaming._session(c)[0]
        return new, new is old

    loop = asyncio.new_event_loop()
    try:
        new, same = loop.run_until_complete(again())
        assert not same
        loop.run_until_complete(new.close())
    finally:
        loop.close()
    foreign = asyncio.new_event_loop()
    try:
        streaming._sessions[c] = streaming._Session(foreign, old, None, "http://127.0.0.1:9", {})
        asyncio.run(streaming.close_session(c))  # belongs to another loop: dropped, not closed
    finally:
        foreign.close()
    assert c not in streaming._sessions and not old.closed
    asyncio.run(old.close())  # it never connected: closing it from any loop is safe


def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_the_proxy_is_chosen_by_the_urls_own_scheme_and_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "api.internal")
    assert streaming.env_proxy("http://api.internal/v1/chat/completions") is None
    assert streaming.env_proxy("http://api.internal:80/a/b") is None
    assert streaming.env_proxy("http://api.example/v1/chat") == "http://proxy.test:3128"
    # a URL inside the path is not the scheme
    assert streaming.env_proxy("https://api.example/v1?next=http://x") is None


def test_the_session_keeps_the_proxy_of_its_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    no_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.test:3128")
    c = httpx.AsyncClient(base_url="http://api.example/v1")

    async def proxy_of() -> str | None:
        try:
            return streaming._session(c)[1]
        finally:
            await streaming.close_session(c)

    assert asyncio.run(proxy_of()) == "http://proxy.test:3128"


async def test_requests_go_through_the_proxy(
    replay: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay server as the HTTP proxy: it receives the request in absolute form."""
    no_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", replay.url)
    replay.route("POST", "http://api.example/v1/x", Reply(chunks=[(0.0, b"proxied")]))
    c = httpx.AsyncClient(base_url="http://api.example")
    try:
        chunks, _ = await send(c, {})
    finally:
        await streaming.close_session(c)
        await c.aclose()
    assert chunks == [b"proxied"]
    assert replay.requests[0].path == "http://api.example/v1/x"


async def test_a_base_url_path_is_kept(replay: ReplayServer) -> None:
    replay.route("POST", "/APIX/v1/x", Reply(chunks=[(0.0, b"ok")]))
    c = httpx.AsyncClient(base_url=replay.url + "/APIX/")
    try:
        chunks, _ = await send(c, {})
    finally:
        await streaming.close_session(c)
        await c.aclose()
    assert chunks == [b"ok"]


def test_a_stream_error_without_a_millisecond_wait() -> None:
    error = streaming.StreamError(503, "Unavailable", "", b"")
    assert (error.retry_after_ms, error.retry_after, str(error)) == ("", "", "HTTP 503")


async def hung_up(replay: ReplayServer) -> bool:
    """Whether the replay server saw the client close the connection (it notices at its next
    write, which for these replies is up to a second away): waited for, so the late write
    does not count against the next test."""
    for _ in range(250):
        if replay.disconnects:
            return True
        await asyncio.sleep(0.02)
    return False


@pytest.fixture
async def hasty(replay: ReplayServer) -> Any:
    """A client whose read timeout is 0.25 s."""
    c = httpx.AsyncClient(base_url=replay.url + "/", timeout=httpx.Timeout(0.25, connect=3.0))
    yield c
    await streaming.close_session(c)
    await c.aclose()


async def test_the_read_timeout_bounds_each_gap_not_the_whole_body(
    replay: ReplayServer, hasty: httpx.AsyncClient
) -> None:
    # Six chunks 100 ms apart: 600 ms in all, more than twice the timeout, no gap over it.
    replay.route("POST", "/v1/x", Reply(chunks=[(100.0 * i, b"%d" % i) for i in range(1, 7)]))
    chunks, starts = await send(hasty, {})
    assert (b"".join(chunks), starts) == (b"123456", 1)


async def test_a_gap_past_the_read_timeout_fails_the_stream_after_what_arrived(
    replay: ReplayServer, hasty: httpx.AsyncClient
) -> None:
    replay.route("POST", "/v1/x", Reply(chunks=[(0.0, b"one"), (50.0, b"two"), (900.0, b"late")]))
    got: list[bytes] = []
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(TimeoutError, match="read timeout"):
        async for chunk in streaming.stream_bytes(hasty, "POST", "/v1/x", {}, None, lambda: None):
            got.append(chunk)
    # Failed before the late chunk came, and no sooner than the timeout after the last one.
    assert b"".join(got) == b"onetwo"
    assert loop.time() - began >= 0.3
    assert await hung_up(replay)  # the request was given up: its connection closed


async def test_a_server_slow_to_answer_at_all_times_out_before_the_stream_starts(
    replay: ReplayServer, hasty: httpx.AsyncClient
) -> None:
    replay.route("POST", "/v1/x", Reply(chunks=[(0.0, b"x")], head_delay_ms=900.0))
    starts: list[int] = []
    with pytest.raises(TimeoutError):
        [c async for c in streaming.stream_bytes(hasty, "POST", "/v1/x", {}, None,
                                                 lambda: starts.append(1))]  # fmt: skip
    assert starts == []
    assert await hung_up(replay)
