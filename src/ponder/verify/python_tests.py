"""``python_tests``: the answer's Python (a ```python block or a bare ``def``) must pass
``tests`` (``[[args, expected], ...]``) on ``function``, in the code bench suite's sandbox
(a separate process with no network, memory and CPU limits, killed at the timeout)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ponder.bench.suites.code.sandbox import run_tests
from ponder.bench.suites.code.suite import extract_code
from ponder.request import ChatRequest
from ponder.verify.base import Judgement, VerifierOptionError, require_str

DEFAULT_TIMEOUT_S = 5.0
MAX_TESTS = 200


class PythonTestsVerifier:
    name: ClassVar[str] = "python_tests"
    request_options: ClassVar[frozenset[str]] = frozenset({"function", "tests"})

    def applies(self, request: ChatRequest, options: Mapping[str, Any]) -> bool:
        return isinstance(options.get("function"), str) and isinstance(options.get("tests"), list)

    def check_options(self, request: ChatRequest, options: Mapping[str, Any]) -> None:
        function = require_str(options, "function", self.name)
        if not function.isidentifier():
            raise VerifierOptionError(
                f"The python_tests verifier's function {function!r} is not a name."
            )
        tests = options.get("tests")
        if not (
            isinstance(tests, list)
            and 0 < len(tests) <= MAX_TESTS
            and all(isinstance(t, list | tuple) and len(t) == 2 for t in tests)
        ):
            raise VerifierOptionError(
                "The python_tests verifier needs tests: a list of [args, expected] pairs"
                f" (1 to {MAX_TESTS}), args a list."
            )

    def judge(self, request: ChatRequest, answer: str, options: Mapping[str, Any]) -> Judgement:
        self.check_options(request, options)
        code = extract_code(answer)
        if code is None:
            return Judgement(False, "the answer has no Python code (a ```python block or a def)")
        tests = [
            (tuple(args) if isinstance(args, list) else (args,), want)
            for args, want in options["tests"]
        ]
        timeout = float(options.get("timeout_s", DEFAULT_TIMEOUT_S))
        result = run_tests(code, str(options["function"]), tests, timeout_s=timeout)
        if result.ok:
            return Judgement(
                True, f"the code passed {len(tests)} test{'s' if len(tests) != 1 else ''}"
            )
        return Judgement(False, f"the code failed its tests: {result.reason}")
