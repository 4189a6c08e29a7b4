"""Mutation testing of the code suite's hidden tests: AST mutants of each reference solution.

A hidden test suite is only as good as the wrong code it rejects. Each reference solution is
mutated one node at a time, in the classes a plausible wrong answer differs by:

- ``operator``: ``+`` ↔ ``-``, ``*`` → ``//``, ``/`` → ``*``, ``//`` → ``/``, ``%`` → ``//``
  (augmented assignments too);
- ``comparison``: ``<`` ↔ ``<=``, ``>`` ↔ ``>=``, ``==`` ↔ ``!=``, ``in`` ↔ ``not in``;
- ``boolean``: ``and`` ↔ ``or``, ``not x`` → ``x``;
- ``constant``: an integer ± 1, ``True`` ↔ ``False``, a non-empty string → ``''``;
- ``slice``: a slice bound ± 1 (off by one);
- ``branch``: an ``if`` body or ``else`` dropped, a conditional expression reduced to one arm,
  a call statement dropped.

Messages of ``raise`` statements are not mutated (no test reads them). The hidden tests must
kill every mutant but the ones :data:`EQUIVALENT` lists with the reason they behave the same.
(mutmut and cosmic-ray mutate files of an installed package; the references are strings in
:mod:`.tasks`, judged in the sandbox, so the same classes are applied here with :mod:`ast`.)
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_BINOPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
}
_CMPOPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}


@dataclass(frozen=True, slots=True)
class CodeMutant:
    kind: str
    change: str  # "line 3: i + 1 < len(s) → i + 1 <= len(s)"
    source: str

    @property
    def id(self) -> str:
        return f"{self.kind} {self.change}"


# A mutation: (kind, a function that changes the copied node in place, or returns a
# replacement node).
_Edit = Callable[[ast.AST], ast.AST | None]


def _edits(node: ast.AST) -> Iterator[tuple[str, _Edit, str | None]]:
    """The single-node mutations of ``node``: (kind, edit, what it does when the changed line
    alone would not say it)."""
    if isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in _BINOPS:
        new_op = _BINOPS[type(node.op)]

        def swap_op(n: ast.AST, new: type[ast.operator] = new_op) -> None:
            n.op = new()  # type: ignore[attr-defined]

        yield "operator", swap_op, None
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _CMPOPS:
                flipped = _CMPOPS[type(op)]

                def swap_cmp(n: ast.AST, i: int = i, new: type[ast.cmpop] = flipped) -> None:
                    n.ops[i] = new()  # type: ignore[attr-defined]

                yield "comparison", swap_cmp, None
    if isinstance(node, ast.BoolOp):

        def swap_bool(n: ast.AST) -> None:
            n.op = ast.Or() if isinstance(n.op, ast.And) else ast.And()  # type: ignore[attr-defined]

        yield "boolean", swap_bool, None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "boolean", lambda n: n.operand, None  # type: ignore[attr-defined,no-any-return]
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            yield "constant", lambda n: ast.Constant(not value), None
        elif isinstance(value, int):
            yield "constant", lambda n: ast.Constant(value + 1), None
            yield "constant", lambda n: ast.Constant(value - 1), None
        elif isinstance(value, str) and value:
            yield "constant", lambda n: ast.Constant(""), None
    if isinstance(node, ast.Slice):
        for bound in ("lower", "upper"):
            if getattr(node, bound) is not None:
                for step in (1, -1):

                    def shift(n: ast.AST, bound: str = bound, step: int = step) -> None:
                        old = getattr(n, bound)
                        way = ast.Add() if step > 0 else ast.Sub()
                        setattr(n, bound, ast.BinOp(old, way, ast.Constant(1)))

                    yield "slice", shift, None
    if isinstance(node, ast.If):

        def drop_body(n: ast.AST) -> None:
            n.body = [ast.Pass()]  # type: ignore[attr-defined]

        yield "branch", drop_body, "if body dropped"
        if node.orelse:

            def drop_else(n: ast.AST) -> None:
                n.orelse = []  # type: ignore[attr-defined]

            yield "branch", drop_else, "else dropped"
    if isinstance(node, ast.IfExp):
        yield "branch", lambda n: n.body, None  # type: ignore[attr-defined,no-any-return]
        yield "branch", lambda n: n.orelse, None  # type: ignore[attr-defined,no-any-return]
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        yield "branch", lambda n: ast.Pass(), "call dropped"


def _skipped(tree: ast.AST) -> set[int]:
    """Nodes never mutated: the insides of ``raise`` statements."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise):
            out.update(id(inner) for inner in ast.walk(node) if inner is not node)
    return out


def _path_to(tree: ast.AST, target: ast.AST) -> list[tuple[str, int | None]]:
    """Field names (and list indexes) leading from ``tree`` to ``target``."""

    def search(
        node: ast.AST, trail: list[tuple[str, int | None]]
    ) -> list[tuple[str, int | None]] | None:
        if node is target:
            return trail
        for name, value in ast.iter_fields(node):
            if isinstance(value, ast.AST):
                found = search(value, [*trail, (name, None)])
                if found is not None:
                    return found
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        found = search(item, [*trail, (name, i)])
                        if found is not None:
                            return found
        return None

    found = search(tree, [])
    assert found is not None
    return found


def _apply(tree: ast.Module, path: list[tuple[str, int | None]], edit: _Edit) -> ast.Module:
    copied = copy.deepcopy(tree)
    parent: ast.AST = copied
    for name, index in path[:-1]:
        child = getattr(parent, name)
        parent = child[index] if index is not None else child
    name, index = path[-1]
    node = getattr(parent, name)[index] if index is not None else getattr(parent, name)
    replacement = edit(node)
    if replacement is not None:
        if index is not None:
            getattr(parent, name)[index] = replacement
        else:
            setattr(parent, name, replacement)
    return ast.fix_missing_locations(copied)


def mutants(source: str) -> list[CodeMutant]:
    """Every single-node mutant of ``source`` (duplicates and no-ops removed), stable order."""
    tree = ast.parse(source)
    skip = _skipped(tree)
    original = ast.unparse(tree)
    seen = {original}
    out: list[CodeMutant] = []
    for node in ast.walk(tree):
        if id(node) in skip or isinstance(node, ast.Module):
            continue
        for kind, edit, note in _edits(node):
            path = _path_to(tree, node)
            mutated = _apply(tree, path, edit)
            text = ast.unparse(mutated)
            if text in seen:
                continue
            seen.add(text)
            line = getattr(node, "lineno", 0)
            before = _line(original, source, line)
            after = f"({note})" if note else _changed_line(text, original)
            out.append(CodeMutant(kind, f"line {line}: {before} → {after}", text + "\n"))
    return out


def _line(unparsed: str, source: str, lineno: int) -> str:
    lines = source.splitlines()
    return lines[lineno - 1].strip() if 0 < lineno <= len(lines) else "?"


def _changed_line(mutated: str, original: str) -> str:
    """The first line of ``mutated`` that differs from ``original`` (both unparsed)."""
    for a, b in zip(mutated.splitlines(), original.splitlines(), strict=False):
        if a != b:
            return a.strip()
    return mutated.splitlines()[-1].strip()


@dataclass(frozen=True, slots=True)
class CodeEquivalence:
    task: str
    change: str  # a CodeMutant.id
    reason: str


EQUIVALENT: tuple[CodeEquivalence, ...] = (
    CodeEquivalence(
        "chunk",
        "constant line 2: if size < 1: → if size < 0:",
        "the two differ only for size 0, where range(0, n, 0) raises ValueError itself",
    ),
    CodeEquivalence(
        "caesar",
        "operator line 7: out.append(chr((ord(c) - 65 + shift) % 26 + 65))"
        " → out.append(chr((ord(c) + 65 + shift) % 26 + 65))",
        "ord(c) + 65 and ord(c) - 65 differ by 130 = 5 * 26, the same remainder mod 26",
    ),
    CodeEquivalence(
        "eval_rpn",
        "constant line 18: return st[0] → return st[-1]",
        "the stack has exactly one element there (checked just above), so st[0] is st[-1]",
    ),
    *(
        CodeEquivalence(
            "eval_rpn",
            f"{kind} line 13: st.append(q if (a >= 0) == (b > 0) else -q) → {after}",
            why,
        )
        for kind, after, why in (
            (
                "comparison",
                "st.append(q if (a > 0) == (b > 0) else -q)",
                "differs only for a = 0, where q = 0 and -q = 0",
            ),
            (
                "constant",
                "st.append(q if (a >= 1) == (b > 0) else -q)",
                "operands are integers: a >= 1 is a > 0, which differs only for a = 0 (q = 0)",
            ),
            (
                "comparison",
                "st.append(q if (a >= 0) == (b >= 0) else -q)",
                "differs only for b = 0, where abs(a) // abs(b) has already raised",
            ),
            (
                "constant",
                "st.append(q if (a >= 0) == (b > -1) else -q)",
                "integers: b > -1 is b >= 0, which differs only for b = 0 (division by zero)",
            ),
        )
    ),
    *(
        CodeEquivalence(
            "count_islands",
            f"operator line 13: yy, xx = y + dy, x + dx → {after}",
            "the four directions are symmetric: negating dy (or dx) gives the same set of"
            " neighbours, only visited in another order",
        )
        for after in ("yy, xx = (y - dy, x + dx)", "yy, xx = (y + dy, x - dx)")
    ),
    CodeEquivalence(
        "count_islands",
        "branch line 9: seen.add((r, c)) → (call dropped)",
        "the scan never comes back to (r, c), and the flood marks it seen when it reaches it"
        " again from a neighbour; the count is the same",
    ),
    CodeEquivalence(
        "next_permutation",
        "constant line 4: while i >= 0 and a[i] >= a[i + 1]: → while i >= -1 and a[i] >= a[i + 1]:",
        "i reaches -1 only for a non-increasing list; a[-1] >= a[0] then holds only when every"
        " element is equal, and every reversal of such a list is the list",
    ),
    CodeEquivalence(
        "longest_common_prefix",
        "branch line 3: return os.path.commonprefix(words) if words else ''"
        " → return os.path.commonprefix(words)",
        "os.path.commonprefix([]) is '' already",
    ),
)


def equivalence(task: str, mutant: CodeMutant) -> CodeEquivalence | None:
    for e in EQUIVALENT:
        if e.task == task and e.change == mutant.id:
            return e
    return None
