"""The UI's server side without a browser: its routes, headers and the race view's verifier."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.testclient import TestClient

from ponder.server.ui import STATIC_DIR, ui_routes
from ponder.server.verify import arithmetic_expression, evaluate, final_number, verify


@pytest.fixture
def client() -> TestClient:
    return TestClient(Starlette(routes=ui_routes()))


def test_index_is_served_with_a_strict_csp(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "object-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/ui/app.js">' in response.text
    assert "<script>" not in response.text  # no inline script: the CSP would block it


def test_every_asset_the_page_names_is_served_as_the_right_type(client: TestClient) -> None:
    for path, kind in (
        ("/ui/app.js", "javascript"),
        ("/ui/styles.css", "text/css"),
        ("/ui/vendor/marked.esm.js", "javascript"),
        ("/ui/vendor/purify.es.js", "javascript"),
        ("/ui/vendor/hljs/core.min.js", "javascript"),
        ("/ui/vendor/hljs/languages/sql.min.js", "javascript"),
        ("/ui/favicon.svg", "image/svg+xml"),
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert kind in response.headers["content-type"], (path, response.headers["content-type"])
        assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/ui/../ui.py").status_code == 404


def test_module_imports_resolve_to_shipped_files() -> None:
    import re

    for js in STATIC_DIR.glob("*.js"):
        for target in re.findall(r'from "\./([^"]+)"', js.read_text()):
            assert (STATIC_DIR / target).is_file(), (js.name, target)


def test_verify_endpoint(client: TestClient) -> None:
    ok = client.post("/api/verify", json={"prompt": "What is 347 × 28?", "answer": "9716"})
    assert ok.json() == {
        "verifiable": True,
        "ok": True,
        "expected": "9716",
        "reason": ok.json()["reason"],
    }
    wrong = client.post("/api/verify", json={"prompt": "347*28", "answer": "It is 9,706."})
    assert wrong.json()["ok"] is False and wrong.json()["expected"] == "9716"
    unknown = client.post("/api/verify", json={"prompt": "Write me a poem", "answer": "no"})
    assert unknown.json() == {
        "verifiable": False,
        "ok": None,
        "expected": None,
        "reason": "no verifier recognises this prompt",
    }


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"prompt": 1, "answer": "x"}', b'{"prompt": "x"}'],
)
def test_verify_rejects_bad_bodies(client: TestClient, body: bytes) -> None:
    response = client.post("/api/verify", content=body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_verify_limits_body_size(client: TestClient) -> None:
    response = client.post("/api/verify", content=b'{"prompt": "' + b"1" * 300_000 + b'"}')
    assert response.status_code == 413


def test_ledger_prompts_use_the_task_verifier() -> None:
    prompt = (
        "Orders: ann 120, bob 45, cy 30, ann 20, bob 90. Refunds: ann 120; cy 30. Who is the"
        " top spender, excluding customers who refunded more than half of their orders?"
    )
    good = verify(prompt, "ann")
    assert good.verifiable and good.ok and good.expected == "ann"
    bad = verify(prompt, "bob")
    assert bad.verifiable and bad.ok is False


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("What is 347 × 28?", "347 * 28"),
        ("347*28", "347*28"),
        ("compute 347 times 28", "347 * 28"),
        ("What's 1,234 plus 5,678?", "1234 + 5678"),
        ("How much is 90 minus 12?", "90 - 12"),
        ("What is (12 + 3) * 4?", "(12 + 3) * 4"),
        ("the product of 12 and 34", "12 * 34"),
        ("subtract 5 from 20", "20 - 5"),
        ("Calculate 7 divided by 2.", "7 / 2"),
        ("what is 12 x 12", "12 * 12"),
    ],
)
def test_arithmetic_prompts_are_parsed(prompt: str, expected: str) -> None:
    assert arithmetic_expression(prompt) == expected


@pytest.mark.parametrize(
    "prompt",
    ["Hello there", "In 2024 we sold 5 units", "What is 2**1000000?", "x" * 1000 + " (1+2)*3"],
)
def test_non_arithmetic_prompts_are_not_verifiable(prompt: str) -> None:
    verdict = verify(prompt, "42")
    assert not verdict.verifiable and verdict.ok is None


def test_compound_expressions_beat_a_two_operand_reading() -> None:
    # A task family would read "12 + 3" out of this; the expression is 60.
    verdict = verify("What is (12 + 3) * 4?", "60")
    assert verdict.verifiable and verdict.ok and verdict.expected == "60"
    assert not verify("1/0 + 3", "3").verifiable  # division by zero: no verdict, no crash


def test_answer_number_extraction() -> None:
    assert final_number("347 × 28 = **9,716**") == 9716
    assert final_number("The answer is 3.5.") == Fraction(7, 2)
    assert final_number("no digits") is None
    assert verify("What is 7 divided by 2?", "3.5").ok is True
    assert verify("What is 10 / 4?", "2.5").ok is True
    assert verify("What is 10 / 4?", "2").ok is False


@given(
    st.integers(0, 10**6), st.sampled_from(["+", "-", "*", "×", " times ", " plus ", " minus "]),
    st.integers(0, 10**6),
)
def test_parser_agrees_with_python_on_two_operands(a: int, op: str, b: int) -> None:
    expression = arithmetic_expression(f"What is {a}{op}{b}?")
    assert expression is not None
    symbol = {"×": "*", " times ": "*", " plus ": "+", " minus ": "-"}.get(op, op)
    expected = {"+": a + b, "-": a - b, "*": a * b}[symbol]
    assert evaluate(expression) == expected


def test_parser_rejects_what_it_cannot_bound() -> None:
    with pytest.raises(ValueError):
        evaluate("1" * 60 + " * 2")
    with pytest.raises(ValueError):
        evaluate("(" * 30 + "1" + ")" * 30)
    with pytest.raises(ValueError):
        evaluate("2 ** 3")
