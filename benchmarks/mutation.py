"""Mutation score of the core, module by module, with mutmut 3.

For each module in ``MODULES`` the project (``src/``, ``tests/``, ``pyproject.toml``) is copied
into a scratch folder, a ``[tool.mutmut]`` table naming that one module and its fast unit
tests is added there, and ``mutmut run`` mutates it: every mutant (an operator swapped, a
constant changed, an argument dropped, …) runs the tests that reach the mutated function, and
counts as killed when one of them fails (or it times out). The kill rate per module is
killed / (mutants − skipped); survivors are listed so each can be read and judged (a missed
behaviour gets a test; an equivalent mutant is explained in docs/mutation.md).

Not part of CI: it is CPU-heavy (minutes per module on two cores). Needs the ``mutation``
extra (``pip install -e '.[mutation]'``).

    python benchmarks/mutation.py                 # every module
    python benchmarks/mutation.py splitter meter  # some of them
    python benchmarks/mutation.py --survivors     # also print each survivor's diff
    python benchmarks/mutation.py --jobs 2        # mutmut's --max-children
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Module:
    name: str
    path: str  # the file mutmut mutates, relative to the project root
    tests: tuple[str, ...]  # pytest arguments: the fast unit tests of that module


FIDELITY = "tests/test_request_fidelity.py::test_provider_sends"
# tests/test_provider_errors.py is left out of the wire-format providers' runs: its HTTP error
# cases wait out the engine's retry back-off (about a second each, on every mutant of
# build_body or generate); what it checks of a provider (mid-stream error events and lines)
# the exact tests check too. It stays in providers/http's run, whose code it is about.
# tests/test_providers_replay.py is in no run: it checks the meter's figures against a replay
# schedule of a few hundred milliseconds (bounded by causality, e.g. the first thought before
# the answer was due), which a run per mutant cannot afford at full length and a loaded
# machine breaks when it is shortened; the exact tests replay the same wire formats without a
# schedule.
PROVIDER_TESTS = (
    "tests/test_provider_requests.py",
    FIDELITY,
    "tests/test_tool_calls.py",
)


def provider_tests(exact: str) -> tuple[str, ...]:
    """A provider's own exact tests (in-process, fast) first, then the shared ones."""
    return (exact, *PROVIDER_TESTS)


MODULES: tuple[Module, ...] = (
    Module(
        "engine",
        "src/ponder/engine.py",
        (
            "tests/test_engine.py",
            "tests/test_engine_contract.py",
            "tests/test_engine_costs_exact.py",
        ),
    ),
    # The two 400- and 200-example property tests take ~12 s a run: too slow to repeat for
    # every mutant on two cores. The cases, the round trip, the unit tests and the exhaustive
    # cuts of tests/test_splitter_exact.py stay.
    Module(
        "splitter",
        "src/ponder/splitter.py",
        (
            "tests/test_splitter.py",
            "tests/test_splitter_exact.py",
            "-k",
            "not test_every_chunking_gives_the_same_split and not test_nothing_is_lost",
        ),
    ),
    Module("meter", "src/ponder/meter.py", ("tests/test_meter.py", "tests/test_meter_exact.py")),
    Module(
        "bench/stats",
        "src/ponder/bench/stats.py",
        (
            "tests/test_bench_stats.py",
            "tests/test_bench_stats_exact.py",
            "tests/test_bench_stats_costs_exact.py",
        ),
    ),
    Module(
        "router/learned",
        "src/ponder/router/learned.py",
        ("tests/test_router_learned.py", "tests/test_router_learned_exact.py"),
    ),
    Module(
        "providers/openai",
        "src/ponder/providers/openai.py",
        provider_tests("tests/test_openai_exact.py"),
    ),
    # The response reader, split out of providers/openai.py: the same exact tests.
    Module(
        "providers/openai_reader",
        "src/ponder/providers/openai_reader.py",
        provider_tests("tests/test_openai_exact.py"),
    ),
    # The thinking flavours, split out of providers/openai.py: its exact tests and the rows.
    Module(
        "providers/openai_flavours",
        "src/ponder/providers/openai_flavours.py",
        ("tests/test_openai_exact.py", FIDELITY),
    ),
    Module(
        "providers/anthropic",
        "src/ponder/providers/anthropic.py",
        provider_tests("tests/test_anthropic_exact.py"),
    ),
    # The Messages stream reader, split out of providers/anthropic.py: the same exact tests.
    Module(
        "providers/anthropic_reader",
        "src/ponder/providers/anthropic_reader.py",
        provider_tests("tests/test_anthropic_exact.py"),
    ),
    Module(
        "providers/ollama",
        "src/ponder/providers/ollama.py",
        provider_tests("tests/test_ollama_exact.py"),
    ),
    Module(
        "providers/http",
        "src/ponder/providers/http.py",
        # Its HTTP-status cases in tests/test_provider_errors.py wait out the engine's retry
        # back-off (a second each); tests/test_http_exact.py checks the same messages directly.
        (
            "tests/test_http_exact.py",
            "tests/test_provider_errors.py",
            FIDELITY,
            "-k",
            "not test_http_errors_surface_status_and_provider_message",
        ),
    ),
    Module(
        "providers/bodies",
        "src/ponder/providers/bodies.py",
        # The SSE and NDJSON body readers, split out of providers/http.py.
        ("tests/test_sse_parser.py", "tests/test_http_exact.py", "tests/test_openai_exact.py"),
    ),
    Module(
        "providers/streaming",
        "src/ponder/providers/streaming.py",
        (
            "tests/test_streaming_exact.py",
            "tests/test_streaming_transport.py",
            "tests/test_provider_errors.py",
        ),
    ),
    Module(
        "providers/deltas",
        "src/ponder/providers/deltas.py",
        (
            "tests/test_deltas_exact.py",
            "tests/test_provider_deltas.py",
        ),
    ),
    Module(
        "providers/tool_calls",
        "src/ponder/providers/tool_calls.py",
        ("tests/test_tool_calls_exact.py", "tests/test_tool_calls.py"),
    ),
    Module(
        "providers/base",
        "src/ponder/providers/base.py",
        (
            "tests/test_provider_base_exact.py",
            "tests/test_provider_requests.py",
            "tests/test_engine_contract.py",
        ),
    ),
    # The local model's accuracy guards (held-out questions by the dozen, seconds a run) are
    # left out; its behaviour tests, cancellation included, stay.
    Module(
        "providers/local",
        "src/ponder/providers/local.py",
        (
            "tests/test_local_exact.py",
            "tests/test_request_fidelity.py::test_local_plan",
            "tests/test_local_provider.py",
            "-k",
            "not test_deep_thinks_then_answers_correctly and not test_fast_answers_at_once"
            " and not test_deep_beats_fast_where_thinking_pays",
        ),
    ),
    # What the embedded model is asked, split out of providers/local.py: the same tests.
    Module(
        "providers/local_question",
        "src/ponder/providers/local_question.py",
        (
            "tests/test_local_exact.py",
            "tests/test_local_provider.py",
            "-k",
            "not test_deep_thinks_then_answers_correctly and not test_fast_answers_at_once"
            " and not test_deep_beats_fast_where_thinking_pays",
        ),
    ),
    Module("server/parse", "src/ponder/server/parse.py", ("tests/test_server_parse.py",)),
    # The hand-over of committed streams: its own tests and the policies' (which open and
    # hand over through it).
    Module(
        "providers/handover",
        "src/ponder/providers/handover.py",
        ("tests/test_handover.py", "tests/test_policies.py"),
    ),
    # The ponder request extension, split out of server/parse.py: the same tests.
    Module("server/extension", "src/ponder/server/extension.py", ("tests/test_server_parse.py",)),
    # The parameters all three doors read (split out of server/parse.py).
    Module(
        "server/params",
        "src/ponder/server/params.py",
        (
            "tests/test_params_exact.py",
            "tests/test_server_parse.py",
            "tests/test_messages_units.py",
        ),
    ),
    Module(
        "server/wire",
        "src/ponder/server/wire.py",
        ("tests/test_server_wire_exact.py", "tests/test_server_wire_units.py"),
    ),
)


def project_copy(module: Module, scratch: Path) -> None:
    """The project in ``scratch`` with a [tool.mutmut] table for ``module`` only."""
    shutil.copytree(ROOT / "src", scratch / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests", scratch / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    table = {
        "source_paths": ["src"],
        "only_mutate": [module.path],
        "pytest_add_cli_args_test_selection": list(module.tests),
        "pytest_add_cli_args": ["-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        "use_git_change_detection": False,
        # A mutant that loops forever is killed after 5x the tests' normal time (default 15x).
        "timeout_multiplier": 5.0,
    }
    lines = [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    text = pyproject + "\n[tool.mutmut]\n" + "\n".join(lines) + "\n"
    (scratch / "pyproject.toml").write_text(text, encoding="utf-8")


@dataclass(frozen=True)
class Score:
    module: str
    total: int
    killed: int
    survived: int
    no_tests: int
    timeout: int
    skipped: int
    seconds: float
    survivors: tuple[str, ...]

    @property
    def tested(self) -> int:
        return self.total - self.skipped

    @property
    def rate(self) -> float:
        return 0.0 if self.tested == 0 else (self.killed + self.timeout) / self.tested


def run_module(module: Module, jobs: int, show: bool) -> Score:
    with tempfile.TemporaryDirectory(prefix="ponder-mutation-") as tmp:
        scratch = Path(tmp)
        project_copy(module, scratch)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        start = time.perf_counter()
        mutmut = [sys.executable, "-m", "mutmut"]
        run = subprocess.run(
            [*mutmut, "run", "--max-children", str(jobs)],
            cwd=scratch, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        if run.returncode != 0:
            tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-15:])
            raise SystemExit(f"mutmut failed on {module.name} (exit {run.returncode}):\n{tail}")
        subprocess.run(
            [*mutmut, "export-cicd-stats"], cwd=scratch, env=env, capture_output=True, check=True
        )
        stats = json.loads((scratch / "mutants" / "mutmut-cicd-stats.json").read_text())
        results = subprocess.run(
            [*mutmut, "results"], cwd=scratch, env=env, capture_output=True, text=True, check=True
        )
        survivors = tuple(
            line.split(":")[0].strip()
            for line in results.stdout.splitlines()
            if line.strip().endswith(("survived", "no tests"))
        )
        if show:
            for name in survivors:
                diff = subprocess.run(
                    [*mutmut, "show", name], cwd=scratch, env=env, capture_output=True, text=True
                )
                print(diff.stdout)
    return Score(
        module=module.name,
        total=int(stats.get("total", 0)),
        killed=int(stats.get("killed", 0)),
        survived=int(stats.get("survived", 0)),
        no_tests=int(stats.get("no_tests", 0)),
        timeout=int(stats.get("timeout", 0)),
        skipped=int(stats.get("skipped", 0)),
        seconds=seconds,
        survivors=survivors,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="module names (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--survivors", action="store_true", help="print each survivor's diff")
    args = parser.parse_args()
    known = {m.name: m for m in MODULES}
    unknown = [name for name in args.modules if name not in known]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(known)}")
    chosen = [known[name] for name in args.modules] if args.modules else list(MODULES)
    print(f"{'module':<22} {'mutants':>7} {'killed':>7} {'survived':>8} {'no tests':>8}"
          f" {'rate':>6} {'time':>7}")  # fmt: skip
    scores = []
    for module in chosen:
        score = run_module(module, args.jobs, args.survivors)
        scores.append(score)
        print(
            f"{score.module:<22} {score.tested:>7} {score.killed + score.timeout:>7}"
            f" {score.survived:>8} {score.no_tests:>8} {score.rate:>6.1%} {score.seconds:>6.0f}s",
            flush=True,
        )
        for name in score.survivors:
            print(f"    survived: {name}")
    tested = sum(s.tested for s in scores)
    killed = sum(s.killed + s.timeout for s in scores)
    if tested:
        print(f"{'all':<22} {tested:>7} {killed:>7} {'':>8} {'':>8} {killed / tested:>6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
