"""ToolCallAssembler, exactly: the events each fragment, whole call, end and close becomes, in
order, with the ids, names and numbering the wire formats leave to it."""

from __future__ import annotations

import re

from ponder.providers.tool_calls import ToolCallAssembler, new_call_id
from tests.provider_exact import plain


def test_made_up_ids() -> None:
    made = {new_call_id() for _ in range(50)}
    assert len(made) == 50
    assert all(re.fullmatch(r"call_[0-9a-f]{24}", i) for i in made)


def test_a_call_streamed_in_fragments() -> None:
    calls = ToolCallAssembler()
    assert calls.count == 0
    events = calls.fragment(0, "c1", "run_", "")
    events += calls.fragment(0, None, None, '{"q"')
    events += calls.fragment(0, None, None, "")
    events += calls.fragment(0, None, None, ": 1}")
    assert plain(events) == [
        ("tool_call_start", 0, "c1", "run_"),
        ("tool_call_delta", 0, '{"q"'),
        ("tool_call_delta", 0, ": 1}"),
    ]
    assert calls.count == 1
    assert plain(calls.close()) == [("tool_call_end", 0, "c1", "run_", '{"q": 1}')]
    assert calls.close() == []  # ended once


def test_a_name_split_across_fragments_before_it_started() -> None:
    calls = ToolCallAssembler()
    assert calls.fragment(0, None, None, '{"a"') == []  # no name yet: held back
    assert calls.fragment(0, None, None, ":1}") == []
    events = calls.fragment(0, "c9", "ping", None)
    assert plain(events) == [
        ("tool_call_start", 0, "c9", "ping"),
        ("tool_call_delta", 0, '{"a"'),
        ("tool_call_delta", 0, ":1}"),
    ]
    # a later fragment repeating the name does not rename it
    assert plain(calls.fragment(0, None, "ping", "")) == []
    assert plain(calls.close()) == [("tool_call_end", 0, "c9", "ping", '{"a":1}')]


def test_an_upstream_id_replaces_a_made_up_one_until_the_call_started() -> None:
    calls = ToolCallAssembler()
    calls.fragment(0, None, None, "{")
    events = calls.fragment(0, "c2", None, "}")
    assert events == []
    started = calls.fragment(0, None, "f", None)
    assert plain(started)[0] == ("tool_call_start", 0, "c2", "f")
    # once started, an id is a new call's
    assert plain(calls.fragment(0, "c3", "g", "x"))[0] == ("tool_call_start", 1, "c3", "g")
    assert [e[2] for e in plain(calls.close()) if e[0] == "tool_call_end"] == ["c2", "c3"]


def test_when_a_fragment_starts_a_new_call() -> None:
    calls = ToolCallAssembler()
    calls.fragment(0, "a", "f", "1")
    # the same id: the same call
    assert plain(calls.fragment(0, "a", None, "2")) == [("tool_call_delta", 0, "2")]
    # no id, the same name: the same call
    assert plain(calls.fragment(0, None, "f", "3")) == [("tool_call_delta", 0, "3")]
    # no id, another name after arguments began: a new call at the same upstream index
    second = plain(calls.fragment(0, None, "g", "4"))
    assert second[0][0:2] == ("tool_call_start", 1) and second[0][3] == "g"
    assert second[1] == ("tool_call_delta", 1, "4")
    # a new call without arguments yet takes a second name as part of its own: no new call
    calls.fragment(5, "c", "h", None)
    assert plain(calls.fragment(5, None, "k", None)) == []
    ends = [e for e in plain(calls.close()) if e[0] == "tool_call_end"]
    assert [(e[1], e[3], e[4]) for e in ends] == [(0, "f", "123"), (1, "g", "4"), (2, "h", "")]


def test_an_id_does_not_split_a_call_with_a_made_up_id() -> None:
    calls = ToolCallAssembler()
    calls.fragment(0, None, "f", "1")  # started under a made-up id
    events = plain(calls.fragment(0, "up", None, "2"))
    assert events == [("tool_call_delta", 0, "2")]
    assert calls.count == 1


def test_fragments_without_an_index_number_by_arrival() -> None:
    calls = ToolCallAssembler()
    first = plain(calls.fragment(None, "a", "f", "1"))
    second = plain(calls.fragment(None, "b", "g", "2"))
    assert (first[0][1:], second[0][1:]) == ((0, "a", "f"), (1, "b", "g"))
    # the upstream index of a call is the key it was filed under, not its number
    other = ToolCallAssembler()
    other.fragment(7, "x", "f", "")
    assert plain(other.fragment(7, None, None, "z")) == [("tool_call_delta", 0, "z")]
    assert plain(other.end(7)) == [("tool_call_end", 0, "x", "f", "z")]
    assert other.end(7) == [] and other.end(3) == []


def test_whole_calls() -> None:
    calls = ToolCallAssembler()
    events = calls.whole("c1", "f", '{"a":1}') + calls.whole(None, "g", "")
    made = plain(events)[2][2]
    assert made.startswith("call_")
    assert plain(events) == [
        ("tool_call_start", 0, "c1", "f"),
        ("tool_call_delta", 0, '{"a":1}'),
        ("tool_call_start", 1, made, "g"),
    ]
    assert calls.count == 2
    assert plain(calls.close()) == [
        ("tool_call_end", 0, "c1", "f", '{"a":1}'),
        ("tool_call_end", 1, made, "g", ""),
    ]


def test_a_call_whose_name_never_came_is_ended_as_unknown() -> None:
    calls = ToolCallAssembler()
    calls.fragment(0, "c1", None, '{"x":')
    calls.fragment(0, None, None, "1}")
    calls.fragment(1, "c2", None, None)
    assert plain(calls.close()) == [
        ("tool_call_start", 0, "c1", "unknown"),
        ("tool_call_delta", 0, '{"x":'),
        ("tool_call_delta", 0, "1}"),
        ("tool_call_end", 0, "c1", "unknown", '{"x":1}'),
        ("tool_call_start", 1, "c2", "unknown"),
        ("tool_call_end", 1, "c2", "unknown", ""),
    ]


def test_end_before_the_name_came() -> None:
    calls = ToolCallAssembler()
    calls.fragment(4, "c1", None, "{}")
    assert plain(calls.end(4)) == [
        ("tool_call_start", 0, "c1", "unknown"),
        ("tool_call_delta", 0, "{}"),
        ("tool_call_end", 0, "c1", "unknown", "{}"),
    ]
    assert calls.close() == []


def test_nameless_index_less_fragments_are_calls_of_their_own() -> None:
    calls = ToolCallAssembler()
    first = plain(calls.fragment(None, None, "f", None))
    second = plain(calls.fragment(None, None, "g", None))
    assert (first[0][1], first[0][3], second[0][1], second[0][3]) == (0, "f", 1, "g")
    assert calls.count == 2


def test_a_new_upstream_id_at_the_same_index_is_a_new_call() -> None:
    calls = ToolCallAssembler()
    calls.fragment(0, "a", "f", "1")
    assert calls.fragment(0, "b", None, "2") == []  # a new call, its name not known yet
    assert calls.count == 2
    ends = [e for e in plain(calls.close()) if e[0] == "tool_call_end"]
    assert ends == [("tool_call_end", 0, "a", "f", "1"), ("tool_call_end", 1, "b", "unknown", "2")]
