"""The narrator: thought deltas in, ordered step labels out, only as the thoughts reach them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ponder.progress import FIRST_LABEL, KeywordNarrator, Narrator
from ponder.tasks import families, generate, solve


def narrate(thoughts: str, chunk: int = 3) -> list[str]:
    narrator = KeywordNarrator()
    labels: list[str] = []
    for i in range(0, len(thoughts), chunk):
        labels += narrator.feed(thoughts[i : i + chunk])
    return labels + narrator.close()


def test_is_a_narrator() -> None:
    narrator: Narrator = KeywordNarrator()
    assert narrator.feed("") == []
    assert narrator.close() == []


def test_first_delta_yields_reading_the_question_at_once() -> None:
    narrator = KeywordNarrator()
    # No sentence finished yet, but the model has started thinking: one step is already real.
    assert narrator.feed("347") == [FIRST_LABEL]
    assert narrator.feed(" × 8") == []


def test_arithmetic_scratchpad_labels_partial_products_in_order() -> None:
    thoughts = (
        "We need 347 × 28. Split 28 into 20 + 8.\n"
        "347 × 8 = 2776\n"
        "347 × 20 = 6940\n"
        "Add the partial products: 2776 + 6940 = 9716.\n"
        "Check: 9716 / 28 = 347, correct.\n"
    )
    assert narrate(thoughts) == [
        FIRST_LABEL,
        "Breaking the numbers apart",
        "Multiplying 347 × 8",
        "Multiplying 347 × 20",
        "Adding the partial products",
        "Checking the result",
    ]


def test_digit_level_scratchpad_is_not_one_label_per_digit() -> None:
    thoughts = "7*8=56 write 6 carry 5\n4*8=32 +5 = 37 write 7 carry 3\n3*8=24\n"
    labels = narrate(thoughts)
    assert labels == [FIRST_LABEL, "Handling the carries", "Multiplying digit by digit"]


def test_ledger_thoughts_name_customers_ratios_and_ranking() -> None:
    thoughts = (
        "The question asks for the top 2 spenders, excluding customers who refunded more "
        "than half of their orders.\n"
        "alice: orders 120 + 80 = 200, refunds 30.\n"
        "alice refund ratio 30/200 = 0.15, keep.\n"
        "bob: orders 50 + 40 = 90, refunds 60.\n"
        "bob refund ratio 60/90 = 0.67 > 0.5, exclude bob.\n"
        "carol: total 150.\n"
        "Rank by spend: alice 200, carol 150.\n"
        "So the answer is alice, carol.\n"
    )
    labels = narrate(thoughts)
    assert labels == [
        FIRST_LABEL,
        "Totalling alice's spend",
        "Checking alice's refund ratio",
        "Totalling bob's spend",
        "Checking bob's refund ratio",
        "Totalling carol's spend",
        "Ranking the customers",
        "Settling on the answer",
    ]


def test_sql_thoughts_follow_the_query_draft() -> None:
    thoughts = (
        "The user wants top spenders excluding heavy refunders. "
        "I'll join orders and refunds on order_id. "
        "Group by customer_id to get totals. "
        "The refund ratio divides by order count, so use NULLIF to avoid division by zero. "
        "Only last month: filter on the order date. "
        "Then order by spend desc limit 5. "
        "Let me draft the SELECT now."
    )
    assert narrate(thoughts, chunk=7) == [
        FIRST_LABEL,
        "Joining orders and refunds",
        "Grouping and aggregating",
        "Guarding against division by zero",
        "Checking the date window",
        "Ranking the results",
        "Drafting the query",
    ]


def test_code_thoughts() -> None:
    thoughts = (
        "Write a function that parses the header. "
        "What about an empty input? "
        "Add a test with assert parse('') == {}. "
        "Double-check the loop bounds."
    )
    assert narrate(thoughts) == [
        FIRST_LABEL,
        "Drafting the code",
        "Handling edge cases",
        "Thinking about tests",
        "Checking the result",
    ]


def test_decimals_do_not_end_a_sentence() -> None:
    narrator = KeywordNarrator()
    assert narrator.feed("ratio is 0.") == [FIRST_LABEL]
    # "0." must not be labelled as a finished sentence before the digits arrive.
    assert narrator.feed("6") == []
    assert narrator.feed("7 for dan's refunds, over half.\n") == ["Checking dan's refund ratio"]


def test_a_label_needs_its_sentence_finished() -> None:
    narrator = KeywordNarrator()
    narrator.feed("Okay.\n")
    assert narrator.feed("347 × 8 = 27") == []
    assert narrator.feed("76\n") == ["Multiplying 347 × 8"]


def test_unfinished_sentence_is_labelled_on_close() -> None:
    narrator = KeywordNarrator()
    narrator.feed("hmm.\n")
    assert narrator.feed("let me double-check this") == []
    assert narrator.close() == ["Checking the result"]


def test_close_of_an_unstarted_stream_is_empty_and_text_only_in_close_still_reads() -> None:
    assert KeywordNarrator().close() == []
    narrator = KeywordNarrator()
    assert narrator.close() == []
    late = KeywordNarrator()
    late._buffer = "x"  # a provider that sent only whitespace first, then closed
    assert late.close() == [FIRST_LABEL]


def test_labels_are_unique_and_capped() -> None:
    thoughts = "".join(f"{n} × 13 = {n * 13}\n" for n in range(100, 140))
    labels = narrate(thoughts)
    assert len(labels) == 16
    assert len(set(labels)) == len(labels)
    assert labels[1] == "Multiplying 100 × 13"


def test_run_on_thought_without_punctuation_still_makes_progress() -> None:
    narrator = KeywordNarrator()
    labels = narrator.feed("x")
    labels += narrator.feed(" we should join orders and refunds" + " and so on" * 50)
    assert "Joining orders and refunds" in labels


def test_labels_are_short() -> None:
    long_name = "x" * 30
    labels = narrate(f"Total for {'a' * 19}: 5 + 5 = 10.\n{long_name}'s refund ratio 1/2.\n")
    assert all(len(label) <= 48 for label in labels)


@given(st.text(max_size=300), st.lists(st.integers(min_value=1, max_value=20), max_size=30))
def test_chunking_does_not_change_labels_for_whitespace_separated_sentences(
    text: str, cuts: list[int]
) -> None:
    whole = KeywordNarrator()
    expected = whole.feed(text) + whole.close()
    pieces = KeywordNarrator()
    got: list[str] = []
    rest = text
    for cut in cuts:
        got += pieces.feed(rest[:cut])
        rest = rest[cut:]
    got += pieces.feed(rest) + pieces.close()
    # A '.' at a chunk end waits for the next character, so chunking never splits differently.
    assert got == expected


def positions(thoughts: str) -> list[tuple[int, str]]:
    """(characters received when the label appeared, label), feeding one character at a time."""
    narrator = KeywordNarrator()
    out: list[tuple[int, str]] = []
    for i in range(len(thoughts)):
        out += [(i + 1, label) for label in narrator.feed(thoughts[i])]
    out += [(len(thoughts), label) for label in narrator.close()]
    return out


def test_embedded_multiplication_scratchpad_names_each_row_when_it_starts() -> None:
    solution = solve("What is 347 × 28?")
    assert solution is not None
    thoughts = solution.thoughts  # "c3b4a7*b2a8\na:7*8+0=56 …\nb:7*2+0=14 …\na:6+0+0=06 …\n=e0d9…"
    got = positions(thoughts)
    assert [label for _, label in got] == [
        FIRST_LABEL,
        "Setting up 347 × 28",
        "Multiplying 347 × 8",
        "Multiplying 347 × 20",
        "Adding the rows",
        "Reading off the answer",
    ]
    lines = thoughts.split("\n")
    assert len(lines) == 5
    starts = [sum(len(line) + 1 for line in lines[:i]) for i in range(len(lines))]
    at = {label: i for i, label in got}
    # Named once the row's first step shows its digit, never before the row begins.
    assert starts[1] < at["Multiplying 347 × 8"] <= starts[1] + len("a:7*8+0=")
    assert starts[2] < at["Multiplying 347 × 20"] <= starts[2] + len("b:7*2+0=")
    assert starts[3] < at["Adding the rows"] <= starts[3] + len("a:6+0+0=06")
    # The read-off line has no newline before the answer: named as it starts.
    assert starts[4] < at["Reading off the answer"] <= starts[4] + 3


def test_one_digit_multiplier_is_one_row_digit_by_digit() -> None:
    solution = solve("What is 564 × 3?")
    assert solution is not None
    assert [label for _, label in positions(solution.thoughts)] == [
        FIRST_LABEL,
        "Setting up 564 × 3",
        "Multiplying 564 × 3, digit by digit",
        "Reading off the answer",
    ]


def test_plain_scratchpad_without_place_letters() -> None:
    thoughts = "347*28\n7*8+0=56 4*8+5=37\n7*2+0=14 4*2+1=09\n6+0+0=06 5+4+0=09\n=9716"
    assert [label for _, label in positions(thoughts)] == [
        FIRST_LABEL,
        "Setting up 347 × 28",
        "Multiplying 347 × 8",
        "Multiplying 347 × 20",
        "Adding the rows",
        "Reading off the answer",
    ]


def test_embedded_addition_and_subtraction_scratchpads() -> None:
    for prompt, verb in (("What is 52+77?", "Adding"), ("What is 5210 - 3987?", "Subtracting")):
        solution = solve(prompt)
        assert solution is not None
        labels = [label for _, label in positions(solution.thoughts)]
        assert labels[0] == FIRST_LABEL
        assert labels[1].startswith("Setting up ")
        assert labels[2:] == [f"{verb} column by column", "Reading off the answer"]


def test_embedded_ledger_scratchpad_walks_customers_ratios_and_ranking() -> None:
    prompt = (
        "Orders: ann 120, bob 45, cy 30, ann 20, cy 5. Refunds: ann 120; cy 5; cy 6. "
        "Who are the top 2 spenders, excluding customers who refunded more than half of "
        "their orders?"
    )
    solution = solve(prompt)
    assert solution is not None
    thoughts = solution.thoughts  # "ann 120+20: 0+0+0=00 … =140 orders 2 refunds 120 =1 ok\n…"
    got = positions(thoughts)
    assert [label for _, label in got] == [
        FIRST_LABEL,
        "Totalling ann's orders",
        "Checking refund ratios",
        "Totalling cy's orders",
        "Excluding cy: 2 of 2 refunded",
        "Ranking the customers",
    ]
    at = {label: i for i, label in got}
    # A worked total is named once its first column step shows, long before its line ends.
    assert at["Totalling ann's orders"] == len("ann 120+20: 0+0+0=00")
    assert at["Checking refund ratios"] == thoughts.index("\n") + 1
    cy = thoughts.index("\ncy ") + 1
    assert at["Totalling cy's orders"] == cy + len("cy 30+5: 0+5+0=05")
    # The first ranking line is named as it starts, once its colon shows it is one.
    ranking = thoughts.index("\nann 140:") + 1
    assert at["Ranking the customers"] == ranking + len("ann 140:")


def test_ledger_scratchpad_chained_totals_and_an_empty_ranking() -> None:
    thoughts = (
        "ann 120+20: 0+0+0=00 2+2+0=04 1+0+0=01 =140 then 140+7: 0+7+0=07 4+0+0=04 1+0+0=01"
        " =147 orders 3 refunds 2 out\n"  # an earlier model's form: the count alone
        "bob 58 =058 orders 1 refunds 58 =1 out\n"
        "cy 9 =009 orders 1 refunds 0 ok\n"
        "ann out: none\n"
        "bob out: none\n"
        "cy 009: cy 009"
    )
    # An out line names the counts it read; "none" is a ranking, not an edge case.
    assert [label for _, label in positions(thoughts)] == [
        FIRST_LABEL,
        "Totalling ann's orders",
        "Excluding ann: 2 of 3 refunded",
        "Excluding bob: 1 of 1 refunded",
        "Checking refund ratios",
        "Ranking the customers",
    ]


def test_embedded_scratchpads_label_the_same_however_they_arrive() -> None:
    for family, levels in families().items():
        for level in levels:
            for problem in generate(family, level, 3, seed=7):
                solution = solve(problem.prompt)
                assert solution is not None
                thoughts = solution.thoughts
                one_by_one = [label for _, label in positions(thoughts)]
                assert one_by_one == narrate(thoughts, chunk=len(thoughts))
                assert one_by_one == narrate(thoughts, chunk=5)
                assert one_by_one[0] == FIRST_LABEL
                assert len(set(one_by_one)) == len(one_by_one)
                assert not {"Handling edge cases", "Checking the result"} & set(one_by_one)
