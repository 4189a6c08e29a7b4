"""Step labels for the embedded model's own scratchpads (the formats :mod:`ponder.tasks` writes).

:class:`Scratchpad` recognises an arithmetic scratchpad (operands restated with place letters,
rows of column steps, the read-off) or a ledger one (a worked line per customer, then the
ranking) line by line, and names each line, or a long line as soon as it starts, so the thought
box follows the model step by step. :mod:`ponder.progress` asks it first and falls back to its
keyword rules for any other thoughts.
"""

from __future__ import annotations

import re

# Words that look like names at the start of a sentence but are not a customer.
NOT_NAMES = frozenset(
    (
        "a", "an", "and", "the", "so", "then", "now", "next", "first", "second", "third",
        "last", "finally", "we", "i", "it", "its", "this", "that", "these", "those", "they",
        "he", "she", "let", "lets", "let's", "ok", "okay", "hmm", "wait", "but", "also",
        "total", "totals", "sum", "spend", "spent", "refund", "refunds", "refunded", "order",
        "orders", "customer", "customers", "ratio", "answer", "result", "check", "checking",
        "verify", "step", "steps", "top", "rank", "ranking", "sort", "sorted", "excluded",
        "exclude", "excluding", "keep", "kept", "include", "included", "remaining", "left",
        "only", "all", "each", "per", "for", "from", "with", "without", "over", "under",
        "above", "below", "question", "query", "sql", "select", "join", "where", "group",
        "having", "limit", "highest", "lowest", "largest", "smallest", "most", "least", "yes",
        "no", "not", "is", "are", "was", "were", "be", "will", "would", "should", "could",
        "can", "must", "need", "needs", "compare", "comparing", "therefore", "thus", "hence",
        "since", "because", "if", "else", "when", "here", "there", "one", "two", "three",
        "carry", "write", "add", "adding", "multiply", "multiplying", "partial", "product",
        "products", "digit", "digits", "units", "tens", "hundreds", "thousands", "their",
        "them", "his", "her", "our", "you", "your", "who", "whose", "which", "what", "more",
        "less", "than", "half", "ratio", "rate", "share", "use", "using", "try", "look",
    )
)


def possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


_OP_SIGN = {"*": "×", "+": "+", "-": "−"}
# Digits may carry their place letter (``d4c8b2a1*b3a7`` is 4821 × 37; ``a:`` marks the units).
_PROBLEM_LINE = re.compile(r"^\s*((?:[a-z]?\d){1,12})\s*([*+\-])\s*((?:[a-z]?\d){1,12})\s*$")
# A multiplication row's first step, ``a:1*7+0=`` or, in the second row, ``B:1*3+0=`` (x ×
# digit + carry): its column and digit. (Earlier models wrote the second row in lower case.)
_MUL_ROW_START = re.compile(r"^\s*(?:([a-zA-Z]):)?\d\*(\d)\+\d=")
# A column step of a sum or difference, ``a:7+5+0=12`` or ``a:0-7-0=13`` (also the rows of a
# long multiplication added up).
_ADD_ROW = re.compile(r"^\s*(?:[a-z]:)?\d[+\-]\d[+\-]\d=\d\d")
_READ_OFF = re.compile(r"^\s*=\s*[a-z]?\d")
# A customer's summary: ``ivy 64+49: 4+9+0=13 6+4+1=11 =113 orders 2 refunds 49 =1 ok`` (the
# refunded amounts, then their count; earlier models wrote the count alone, ``refunds 1``).
_LEDGER_SUM_START = re.compile(r"^\s*([a-z][\w-]*) \d+\+\d+: \d\+\d\+\d=\d\d")
_LEDGER_SUMMARY = re.compile(
    r"^\s*([a-z][\w-]*) (.*?)\s*=\d+ orders (\d+) refunds (?:(?:\d+ )*=)?(\d+) (ok|out)\s*$"
)
# A ranking step: ``ned 071 vs 113 <: ivy 113, ned 071``, ``ray out: ivy 113``, ``fay out:
# none`` (earlier models put the sign first, ``ned 071 <113:``).
_COMPARISONS = r"(?: (?:vs \d+ [<>]|[<>]\d+))*"
_LEDGER_RANK_START = re.compile(r"^\s*([a-z][\w-]*) (?:out|\d+" + _COMPARISONS + r"):")
_LEDGER_RANK = re.compile(
    r"^\s*([a-z][\w-]*) (?:out|\d+" + _COMPARISONS + r"):"
    r" (?:none|[a-z][\w-]* \d+(?:, [a-z][\w-]* \d+)*)\s*$"
)


def _digits(placed: str) -> int:
    return int(re.sub(r"[a-z]", "", placed))


class Scratchpad:
    """The embedded model's scratchpads (see :mod:`ponder.tasks`).

    Arithmetic: the problem restated with place letters (``d4c8b2a1*b3a7``, or plain
    ``4821*37``); for a sum or difference one line of column steps (``a:1+7+0=08 b:…``); for a
    product one row of ``x*digit+carry`` steps per digit of the multiplier (``a:1*7+0=07 b:…``,
    the next row one column left and in capitals, ``B:1*3+0=03 C:…``), then, for a multi-digit
    multiplier, the rows added column by column (``a:7+0+0=07 b:…``); then the digits read off
    (``=f1e7d8c3b7a7``).

    Ledger: one summary line per customer (``ivy 64+49: 4+9+0=13 6+4+1=11 =113 orders 2
    refunds =0 ok``, ``ray 58 =058 orders 1 refunds 58 =1 out``), then one ranking line per
    customer (``ned 071 vs 113 <: ivy 113, ned 071``, ``ray out: ivy 113, ned 071``).

    A line of steps (a multiplication row, a column walk, a customer's worked total, the first
    ranking line) is named as soon as its first step shows what it is, not when its (long) line
    ends; the read-off, the scratchpad's last line, as it starts; everything else when its line
    ends.
    """

    def __init__(self) -> None:
        self.problem: tuple[int, str, int] | None = None
        self.rows_started = 0
        self.row_open = False
        self.summaries = 0
        self.ratios_checked = False
        self.ranking = False

    def line_start(self, partial: str) -> str | None:
        """A label for a line still being written, once its start says what it is."""
        if self.row_open:
            return None
        if self.problem is None:
            label = self._ledger_start(partial)
        else:
            label = self._arith_start(partial, *self.problem)
        if label is not None:
            self.row_open = True
        return label

    def _ledger_start(self, partial: str) -> str | None:
        if self.summaries and not self.ranking and _LEDGER_RANK_START.match(partial):
            self.ranking = True
            return "Ranking the customers"
        total = _LEDGER_SUM_START.match(partial)
        if total is not None and total.group(1) not in NOT_NAMES:
            return f"Totalling {possessive(total.group(1))} orders"
        return None

    def _arith_start(self, partial: str, a: int, op: str, b: int) -> str | None:
        if self.rows_started and _READ_OFF.match(partial):
            return "Reading off the answer"
        if op == "*" and (row_start := _MUL_ROW_START.match(partial)) is not None:
            column, digit = row_start.group(1), int(row_start.group(2))
            row = ord(column.lower()) - ord("a") if column else self.rows_started
            self.rows_started += 1
            if len(str(b)) == 1:
                return f"Multiplying {a} × {digit}, digit by digit"
            return f"Multiplying {a} × {digit * 10**row}"
        if _ADD_ROW.match(partial):
            if op == "*":
                if not self.rows_started:
                    return None
                self.rows_started += 1
                return "Adding the rows"
            self.rows_started += 1
            return "Adding column by column" if op == "+" else "Subtracting column by column"
        return None

    def line(self, line: str, labels_for: list[str]) -> bool:
        """Name a finished line; True when the line was a scratchpad line (claimed)."""
        was_open, self.row_open = self.row_open, False
        problem = _PROBLEM_LINE.match(line)
        if problem is not None and self.problem is None and not self.summaries:
            a, op, b = _digits(problem.group(1)), problem.group(2), _digits(problem.group(3))
            self.problem = (a, op, b)
            labels_for.append(f"Setting up {a} {_OP_SIGN[op]} {b}")
            return True
        if self.problem is None and (summary := _LEDGER_SUMMARY.match(line)) is not None:
            self.summaries += 1
            name, amounts, orders, refunds, verdict = summary.groups()
            if not was_open and "+" in amounts and name not in NOT_NAMES:
                labels_for.append(f"Totalling {possessive(name)} orders")
            if verdict == "out":
                labels_for.append(f"Excluding {name}: {refunds} of {orders} refunded")
            elif not self.ratios_checked:
                self.ratios_checked = True
                labels_for.append("Checking refund ratios")
            return True
        if was_open:
            return True
        if self.summaries and _LEDGER_RANK.match(line):
            if not self.ranking:
                self.ranking = True
                labels_for.append("Ranking the customers")
            return True
        if self.problem is not None and (_MUL_ROW_START.match(line) or _ADD_ROW.match(line)):
            label = self.line_start(line)
            self.row_open = False
            if label:
                labels_for.append(label)
            return True
        return False
