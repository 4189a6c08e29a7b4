"""The incremental SSE parser on its own: whatever the chunk boundaries, the same events, and
the one-event-per-chunk fast path agrees with the general one in every state it can meet."""

from __future__ import annotations

import itertools

from ponder.providers.bodies import SSEEvent, SSEParser

BODY = (
    b": keep-alive\n\n"
    b"event: ping\ndata: {}\n\n"
    b"data: one\ndata:two\n\n"
    b'data: {"a":"h\xc3\xa9"}\n\n'
    b"id: 3\r\ndata: crlf\r\n\r\n"
    b"data: plain\n\n"
    b"data: last"
)
EVENTS = [
    SSEEvent("ping", "{}"),
    SSEEvent("message", "one\ntwo"),
    SSEEvent("message", '{"a":"hé"}'),
    SSEEvent("message", "crlf"),
    SSEEvent("message", "plain"),
    SSEEvent("message", "last"),
]


def parse(*chunks: bytes) -> list[SSEEvent]:
    parser = SSEParser()
    events = [e for c in chunks for e in parser.feed(c)]
    return events + parser.close()


def test_one_chunk_and_every_split_into_two_and_three_give_the_same_events() -> None:
    assert parse(BODY) == EVENTS
    for cut in range(1, len(BODY)):
        assert parse(BODY[:cut], BODY[cut:]) == EVENTS, cut
    for a, b in itertools.combinations(range(1, len(BODY), 7), 2):
        assert parse(BODY[:a], BODY[a:b], BODY[b:]) == EVENTS, (a, b)


def test_each_event_in_its_own_chunk_as_servers_flush_them() -> None:
    chunks = [part + b"\n\n" for part in BODY.split(b"\n\n")[:-1]] + [b"data: last"]
    assert parse(*chunks) == EVENTS


def test_a_whole_event_chunk_after_an_unfinished_state_is_read_in_that_state() -> None:
    # After an event name, a data line still open, or half a line: the general path's answer.
    assert parse(b"event: e\n", b"data: x\n\n") == [SSEEvent("e", "x")]
    assert parse(b"data: a\n", b"data: b\n\n") == [SSEEvent("message", "a\nb")]
    assert parse(b"da", b"ta: x\n\n") == [SSEEvent("message", "x")]
    assert parse(b"data: x\r\n\n") == [SSEEvent("message", "x")]
    assert parse(b"data: a\ndata: b\n\n") == [SSEEvent("message", "a\nb")]
    # The event name is used once: the next event is a "message" again.
    assert parse(b"event: e\n", b"data: x\n\n", b"data: y\n\n") == [
        SSEEvent("e", "x"), SSEEvent("message", "y"),
    ]  # fmt: skip


def test_close_flushes_once_and_comments_and_blank_lines_yield_nothing() -> None:
    parser = SSEParser()
    assert parser.feed(b": c\n\n\n\nevent: only\n\n") == []
    assert parser.feed(b"data: tail") == []
    assert parser.close() == [SSEEvent("message", "tail")]
    assert parser.close() == []
    assert parse(b"data: \xff\n\n") == [SSEEvent("message", "\ufffd")]
