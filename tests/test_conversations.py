"""Reading a conversation's log of requests as the turns it has now
(ponder.store.conversations)."""

from __future__ import annotations

from ponder.store.conversations import current_turns
from tests.test_store import record


def ids(records: list) -> list[str]:  # type: ignore[type-arg]
    return [r.request_id for r in records]


def test_requests_that_name_no_turn_are_appended_in_order() -> None:
    assert ids(current_turns([record(1), record(2), record(3)])) == [
        "req_0001", "req_0002", "req_0003",
    ]  # fmt: skip


def test_a_regenerated_last_reply_replaces_it() -> None:
    log = [record(1, turn_index=0), record(2, turn_index=1), record(3, turn_index=1)]
    assert ids(current_turns(log)) == ["req_0001", "req_0003"]


def test_an_edited_message_drops_every_turn_after_it_and_the_chat_goes_on_from_there() -> None:
    log = [
        record(1, turn_index=0), record(2, turn_index=1), record(3, turn_index=2),
        record(4, turn_index=1),  # the second message, edited and sent again
        record(5, turn_index=2),  # and the chat goes on
    ]  # fmt: skip
    assert ids(current_turns(log)) == ["req_0001", "req_0004", "req_0005"]
    assert ids(current_turns([*log, record(6, turn_index=0)])) == ["req_0006"]


def test_a_turn_past_the_end_is_the_next_turn() -> None:
    log = [record(1, turn_index=0), record(2, turn_index=5), record(3)]
    assert ids(current_turns(log)) == ["req_0001", "req_0002", "req_0003"]
