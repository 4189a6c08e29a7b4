"""The training stream: what the embedded model is trained on (no torch needed)."""

from __future__ import annotations

from ponder import tasks
from ponder.tasks import ledger
from ponder.train.data import CLOSE_SHARE, MIXTURE, Stream, build_tokenizer


def test_mixture_is_a_distribution_over_every_family_level_and_mode() -> None:
    assert abs(sum(MIXTURE.values()) - 1.0) < 1e-9
    expected = {(f, lv, deep) for f, levels in tasks.families().items() for lv in levels
                for deep in (True, False)}
    assert set(MIXTURE) == expected


def test_stream_draws_extra_ledgers_whose_ranking_the_units_digit_decides() -> None:
    natural = [
        ledger.close_calls(ledger.parse(p.prompt))  # type: ignore[arg-type]
        for level in (2, 3)
        for p in tasks.generate("ledger", level, 200, seed=3, split="train")
    ]
    natural_share = sum(1 for n in natural if n) / len(natural)
    stream = Stream(build_tokenizer(), seed=5)
    tok = stream.tok
    drawn: list[int] = []
    while len(drawn) < 200:
        ex = stream.next()
        if ex.family == "ledger" and ex.deep and ex.level > 1:
            prompt = tok.decode([i for i, lab in zip(ex.ids, ex.labels, strict=True)
                                 if lab == -100], skip_special_tokens=True)
            parsed = ledger.parse(prompt)
            assert parsed is not None, prompt
            drawn.append(ledger.close_calls(parsed))
    drawn_share = sum(1 for n in drawn if n) / len(drawn)
    # about natural + CLOSE_SHARE × (1 − natural): well above what the generator gives alone
    assert natural_share < 0.25
    assert drawn_share > natural_share + CLOSE_SHARE / 2
