"""Bad input, generated: schemathesis reads the live server's /openapi.json and sends what it
describes and what it forbids. No answer is a 5xx, every answer
matches the description; the explicit limits are answered with a 400 naming the limit.
Every 4xx is in its door's shape (Anthropic's under /v1/messages)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from ponder.config import load_config
from ponder.server import ServerSettings, create_app, limits
from ponder.store import TraceWriter
from tests.gateway_harness import ThreadServer

# Quick scripted models only: the fuzzer may pick any configured name.
CONFIG = """
[models.fast]
provider = "scripted"
thinking = { enabled = false }
script = [["answer", "Paris", 0], ["finish", "stop"]]

[models.deep]
provider = "scripted"
script = [["thinking", "Hm. ", 0], ["answer", "42", 0], ["finish", "stop"]]
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    directory = tmp_path_factory.mktemp("openapi")
    path = directory / "ponder.toml"
    path.write_text(CONFIG, encoding="utf-8")
    writer = TraceWriter(directory / "traces.db")
    with ThreadServer(create_app(load_config(path), ServerSettings(), writer=writer)) as server:
        yield server


def door_shaped_errors(ctx: Any, response: Any, case: Any) -> bool:
    """Every 4xx in its door's shape: Anthropic's under /v1/messages, OpenAI's elsewhere."""
    if 400 <= response.status_code < 500:
        body = response.json()
        error = body["error"]
        assert isinstance(error["message"], str) and error["message"]
        assert isinstance(error["type"], str)
        if case.path.startswith("/v1/messages"):
            assert body["type"] == "error"
        else:
            assert "code" in error
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Operations that take input a client can get wrong (the others take none, or a free string).
WITH_INPUT = {"POST /v1/chat/completions", "POST /v1/messages", "POST /v1/messages/count_tokens",
              "POST /v1/responses", "GET /api/traces"}
# The doors, whose descriptions say what a body must be: a body they forbid is refused.
DOORS = {"/v1/chat/completions", "/v1/messages", "/v1/messages/count_tokens", "/v1/responses"}
EXAMPLES = 25  # per operation and mode: ~10 operations x 2 modes, a few seconds in all


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests(live: ThreadServer, mode: GenerationMode) -> None:
    # Driven through hypothesis directly: schemathesis's pytest plugin does not load on
    # this pytest. Each operation gets its own strategy of cases, valid or invalid.
    schema = schemathesis.openapi.from_url(live.base_url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    assert {"POST /v1/chat/completions", "POST /v1/messages", "POST /v1/messages/count_tokens",
            "POST /v1/responses", "GET /api/traces", "GET /v1/models/{model}"} <= labels

    for operation in operations:
        if mode is GenerationMode.NEGATIVE and operation.label not in WITH_INPUT:
            continue  # nothing to get wrong: no body, no typed parameter

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck),
                  deadline=None, database=None)  # fmt: skip
        def check(case: Any) -> None:
            response = case.call(base_url=live.base_url, timeout=10)
            assert response.status_code < 500, (case.path, response.text[:300])
            if mode is GenerationMode.NEGATIVE and case.path in DOORS:
                # What the description forbids is refused (413 included: schemathesis's own
                # rejection check does not count "too large" as a refusal).
                assert 400 <= response.status_code < 500, response.text[:300]
            case.validate_response(response, checks=CHECKS,
                                   additional_checks=[door_shaped_errors])  # fmt: skip

        check()


@pytest.mark.parametrize(
    ("body", "param", "limit"),
    [
        ({"messages": [{"role": "user", "content": "hi"}] * (limits.MAX_MESSAGES + 1)},
         "messages", "max_messages"),
        ({"messages": [{"role": "user", "content": "x" * (limits.MAX_MESSAGE_CHARS + 1)}]},
         "messages[0].content", "max_message_chars"),
        ({"max_tokens": limits.MAX_TOKENS + 1}, "max_tokens", "max_tokens"),
        ({"tools": [{"type": "function", "function": {"name": f"f{i}"}}
                    for i in range(limits.MAX_TOOLS + 1)]}, "tools", "max_tools"),
    ],
)  # fmt: skip
def test_limits_are_a_400_naming_the_limit(
    live: ThreadServer, body: dict[str, Any], param: str, limit: str
) -> None:
    full = {"model": "fast", "messages": [{"role": "user", "content": "hi"}], **body}
    r = httpx.post(live.base_url + "/v1/chat/completions", json=full, timeout=10)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "limit_exceeded" and error["param"] == param
    assert f"({limit})" in error["message"] and "the limit is" in error["message"]


def test_openapi_names_the_models_and_limits(live: ThreadServer) -> None:
    doc = httpx.get(live.base_url + "/openapi.json").json()
    request = doc["paths"]["/v1/chat/completions"]["post"]["requestBody"]
    body = request["content"]["application/json"]["schema"]["properties"]
    assert body["model"]["enum"] == ["auto", "deep", "fast", "hedge"]
    assert body["messages"]["maxItems"] == limits.MAX_MESSAGES


