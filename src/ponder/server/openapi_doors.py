"""The OpenAPI path items of the two agent front doors: Anthropic Messages and OpenAI
Responses (:mod:`ponder.server.openapi` puts them beside chat completions).

Each request schema says what the door's parser reads and the ranges it checks (its
optional fields may also be left out); each door's errors keep that API's own shape:
``{"type": "error", "error": {"type", "message"}}`` under ``/v1/messages``, OpenAI's
``{"error": {...}}`` under ``/v1/responses``.
"""

from __future__ import annotations

from typing import Any

from ponder.server import limits

Schema = dict[str, Any]

# ponder's extension, which every door reads: a verifier for a hedge (a name, or {name,
# ...options}), the hedge opt-out, and a cost budget for auto.
PONDER_EXTENSION: Schema = {
    "type": ["object", "null"],
    "properties": {
        "verify": {"type": ["string", "object", "null"]},
        "hedge": {"type": ["boolean", "null"]},
        "max_cost_usd": {"type": ["number", "null"], "minimum": 0},
    },
}

ANTHROPIC_ERROR: Schema = {
    "type": "object",
    "required": ["type", "error"],
    "properties": {
        "type": {"const": "error"},
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}
_STRING: Schema = {"type": "string"}
_STRINGS: Schema = {"type": "array", "items": _STRING}
_TOKENS: Schema = {"type": "integer", "minimum": 1, "maximum": limits.MAX_TOKENS}
_TEXT: Schema = {"type": "string", "maxLength": limits.MAX_MESSAGE_CHARS}
_BLOCK: Schema = {"type": "object", "required": ["type"], "properties": {"type": _TEXT}}
_SSE: Schema = {
    "type": "object",
    "required": ["data"],
    "properties": {"data": {"type": "string"}, "event": {"type": "string"}},
}
_MAX_TTFA: Schema = {
    "name": "x-ponder-max-ttfa-ms",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": "^[0-9]{1,9}(\\.[0-9]+)?$"},
}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _anthropic_errors(*statuses: int) -> dict[str, Schema]:
    return {str(s): _json(ANTHROPIC_ERROR, "An Anthropic-shaped error.") for s in statuses}


def _messages_request(models: list[str], counting: bool) -> Schema:
    anthropic_tool = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "input_schema": {"type": "object"},
        },
    }
    required = ["model", "messages"] if counting else ["model", "max_tokens", "messages"]
    return {
        "type": "object",
        "required": required,
        "properties": {
            "model": {"enum": models},
            "max_tokens": _TOKENS,
            "messages": {
                "type": "array",
                "minItems": 1,
                "maxItems": limits.MAX_MESSAGES,
                "items": {
                    "type": "object",
                    "required": ["role", "content"],
                    "properties": {
                        "role": {"enum": ["user", "assistant"]},
                        "content": {
                            "oneOf": [_TEXT, {"type": "array", "items": _BLOCK, "minItems": 1}]
                        },
                    },
                },
            },
            "system": {"oneOf": [_TEXT, {"type": "array", "items": _BLOCK}]},
            "stream": {"type": "boolean"},
            "temperature": {"type": "number", "minimum": 0, "maximum": 1},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "stop_sequences": {"type": "array", "items": {"type": "string"}},
            "thinking": {
                "type": "object",
                "properties": {
                    "type": {"enum": ["enabled", "disabled", "adaptive"]},
                    "budget_tokens": {"type": "integer", "minimum": 1},
                    "display": {"enum": ["summarized", "omitted"]},
                },
            },
            "output_config": {
                "type": "object",
                "properties": {"effort": {"enum": ["low", "medium", "high", "max"]}},
            },
            "tools": {"type": "array", "items": anthropic_tool, "maxItems": limits.MAX_TOOLS},
            "tool_choice": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"enum": ["auto", "any", "tool", "none"]},
                    "name": {"type": "string"},
                },
            },
            "metadata": {"type": "object"},
            "ponder": PONDER_EXTENSION,
        },
    }


def _responses_request(models: list[str]) -> Schema:
    item: Schema = {"type": "object", "properties": {"type": {"type": "string"}}}
    return {
        "type": "object",
        "required": ["model", "input"],
        "properties": {
            "model": {"enum": models},
            "input": {"oneOf": [_TEXT, {"type": "array", "items": item}]},
            "instructions": {"type": "string"},
            "stream": {"type": "boolean"},
            "store": {"type": "boolean"},
            "previous_response_id": {"type": "string", "minLength": 1},
            "include": {"type": "array", "items": {"type": "string"}},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "max_output_tokens": _TOKENS,
            "reasoning": {
                "type": "object",
                "properties": {
                    "effort": {"enum": ["none", "minimal", "low", "medium", "high", "xhigh"]},
                    "summary": {"enum": ["auto", "concise", "detailed", None]},
                },
            },
            "tools": {"type": "array", "items": {"type": "object"}, "maxItems": limits.MAX_TOOLS},
            "tool_choice": {"oneOf": [{"enum": ["auto", "none", "required"]}, {"type": "object"}]},
            "parallel_tool_calls": {"type": "boolean"},
            "text": {"type": "object"},
            "metadata": {"type": "object"},
            "ponder": PONDER_EXTENSION,
        },
    }


def door_paths(models: list[str], openai_errors: dict[str, Schema]) -> dict[str, Schema]:
    """``/v1/messages``, ``/v1/messages/count_tokens`` and ``/v1/responses``; the OpenAI error
    responses come from the caller (the same as chat completions')."""
    streamed = {
        "description": "The whole response, or its server-sent events.",
        "content": {"application/json": {"schema": {"type": "object"}},
                    "text/event-stream": {"schema": _SSE}},
    }  # fmt: skip
    return {
        "/v1/messages": {
            "post": {
                "operationId": "createMessage",
                "parameters": [_MAX_TTFA],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _messages_request(models, False)}},
                },
                "responses": {
                    "200": streamed,
                    **_anthropic_errors(400, 401, 404, 413, 429, 502, 503, 504),
                },
            }
        },
        "/v1/messages/count_tokens": {
            "post": {
                "operationId": "countMessageTokens",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _messages_request(models, True)}},
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["input_tokens"],
                            "properties": {"input_tokens": {"type": "integer", "minimum": 0}},
                        },
                        "ponder's offline estimate of the input tokens.",
                    ),
                    **_anthropic_errors(400, 401, 404, 413),
                },
            }
        },
        "/v1/responses": {
            "post": {
                "operationId": "createResponse",
                "parameters": [_MAX_TTFA],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _responses_request(models)}},
                },
                "responses": {"200": streamed, **openai_errors},
            }
        },
        "/v1/responses/{response_id}": {
            "get": {
                "operationId": "getResponse",
                "parameters": [
                    {"name": "response_id", "in": "path", "required": True, "schema": _STRING},
                    {"name": "include[]", "in": "query", "required": False, "schema": _STRINGS},
                ],
                "responses": {
                    "200": _json({"type": "object"}, "The stored response."),
                    **{k: v for k, v in openai_errors.items() if k in ("401", "404")},
                },
            }
        },
    }
