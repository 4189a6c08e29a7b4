"""One rig for the agent-loop tests of every front door: a real ``ponder serve`` in front of
a Kimi-style OpenAI-compatible thinking model and an Anthropic model (replay upstreams that
refuse what those APIs refuse, tests/agent_upstreams.py), with a real tool: read-only SQL over
the bench's SQLite shop database. Each door's tests drive it with that door's official SDK.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anthropic
import openai

from ponder.bench.suites.sql.data import build_database
from ponder.bench.suites.sql.execute import run_query
from tests.agent_upstreams import QUERIES, Upstream, answer, anthropic_app, openai_thinking_app
from tests.gateway_harness import CANARY_ENV, CANARY_KEY, Served, ThreadServer, serve_subprocess

QUESTION = "How many orders are there, and how many in each status?"

# A priced copy of the Kimi model, for the doors' cost reports.
PRICED_KIMI = """
[models.kimi-priced]
provider = "openai"
base_url = "{url}/v1"
model = "kimi-k2-thinking"
api_key_env = "PONDER_TEST_CANARY_KEY"
thinking = {{ enabled = true, flavour = "deepseek" }}
price = {{ input = 0.60, output = 2.50 }}
"""


def config_text(openai_url: str, anthropic_url: str) -> str:
    return f"""
[router]
kind = "rules"

[models.kimi]
provider = "openai"
base_url = "{openai_url}/v1"
model = "kimi-k2-thinking"
api_key_env = "{CANARY_ENV}"
thinking = {{ enabled = true, flavour = "deepseek" }}

[models.kimi-json]
provider = "openai"
base_url = "{openai_url}/v1"
model = "kimi-k2-thinking"
api_key_env = "{CANARY_ENV}"
stream = false
thinking = {{ enabled = true, flavour = "deepseek" }}

[models.claude]
provider = "anthropic"
base_url = "{anthropic_url}"
model = "claude-sonnet-4-5"
api_key_env = "{CANARY_ENV}"
thinking = {{ enabled = true, budget = 2048 }}
"""


@dataclass
class Rig:
    served: Served
    shop: Path
    kimi: Upstream
    claude: Upstream
    config: Path
    env: dict[str, str] = field(default_factory=dict)  # what a second gateway on it needs

    def openai_client(self, base_url: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=(base_url or self.served.base_url) + "/v1", api_key="unused", max_retries=0
        )

    def anthropic_client(self, base_url: str | None = None) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            base_url=base_url or self.served.base_url, api_key="unused", max_retries=0
        )

    def upstream(self, model: str) -> Upstream:
        return self.claude if model == "claude" else self.kimi


@contextmanager
def agent_rig(
    directory: Path, *, priced: bool = False, env: Mapping[str, str] | None = None
) -> Iterator[Rig]:
    """The upstreams, the shop and ``ponder serve`` on them, for as long as the block runs."""
    shop = build_database(directory / "shop.db", seed=7)
    kimi, claude = Upstream(), Upstream()
    with ThreadServer(openai_thinking_app(kimi)) as oa, ThreadServer(anthropic_app(claude)) as an:
        config = directory / "ponder.toml"
        text = config_text(oa.base_url, an.base_url)
        if priced:
            text += PRICED_KIMI.format(url=oa.base_url)
        config.write_text(text, encoding="utf-8")
        gateway_env = {CANARY_ENV: CANARY_KEY, **(env or {})}
        with serve_subprocess(config, directory / "traces.db", env=gateway_env) as served:
            yield Rig(served, shop, kimi, claude, config, gateway_env)


def run_sql(shop: Path, arguments: str) -> str:
    rows = run_query(shop, json.loads(arguments)["query"]).rows
    return json.dumps([list(row) for row in rows])


def expected_answer(shop: Path) -> str:
    return answer([run_sql(shop, json.dumps({"query": q})) for q in QUERIES])
