"""The OpenAPI 3.1 description of the gateway's HTTP API, served at ``/openapi.json``.

Written by hand from the handlers (there is no framework to derive it from), with the
request limits of :mod:`ponder.server.limits` and the configured model names in it (message
shapes per role, tools, tool_choice, response_format included), so a
client generator or a fuzzer (the test suite runs schemathesis against the live server)
knows exactly what is accepted. Every error response has OpenAI's shape, except under
``/v1/messages``, whose errors are Anthropic's (those two doors: :mod:`.openapi_doors`).
"""

from __future__ import annotations

from typing import Any

from ponder import __version__
from ponder.config import Config
from ponder.server import limits
from ponder.server.openapi_doors import PONDER_EXTENSION, door_paths
from ponder.store.base import SORTS
from ponder.store.record import STATUSES

Schema = dict[str, Any]

_ERROR: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        },
        "ponder": {"type": "object"},
    },
}
_TEXT: Schema = {"type": "string", "maxLength": limits.MAX_MESSAGE_CHARS}
_TEXT_PART: Schema = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"const": "text"}, "text": _TEXT},
}
_IMAGE_PART: Schema = {
    "type": "object",
    "required": ["type", "image_url"],
    "properties": {
        "type": {"const": "image_url"},
        "image_url": {
            "type": "object",
            "required": ["url"],
            "properties": {"url": {"type": "string", "pattern": "^(https?://|data:)"}},
        },
    },
}


def _content(*parts: Schema) -> Schema:
    return {
        "anyOf": [
            _TEXT,
            {"type": "array", "items": {"anyOf": list(parts)}, "maxItems": 64},
            {"type": "null"},
        ]
    }


_NAME: Schema = {"type": "string", "minLength": 1}
_TOOL_CALL: Schema = {
    "type": "object",
    "required": ["id", "function"],
    "properties": {
        "id": _NAME,
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": _NAME, "arguments": {"type": "string"}},
        },
    },
}
_MESSAGE: Schema = {
    "anyOf": [
        {
            "type": "object",
            "required": ["role"],
            "properties": {
                "role": {"const": "user"},
                "content": _content(_TEXT_PART, _IMAGE_PART),
            },
        },
        {
            "type": "object",
            "required": ["role"],
            "properties": {
                "role": {"enum": ["system", "developer"]},
                "content": _content(_TEXT_PART),
            },
        },
        {
            "type": "object",
            "required": ["role"],
            "properties": {
                "role": {"const": "assistant"},
                "content": _content(_TEXT_PART),
                "tool_calls": {"type": "array", "items": _TOOL_CALL},
            },
        },
        {
            "type": "object",
            "required": ["role", "tool_call_id"],
            "properties": {
                "role": {"const": "tool"},
                "tool_call_id": _NAME,
                "content": _content(_TEXT_PART),
            },
        },
    ]
}
_TOOL: Schema = {
    "type": "object",
    "required": ["function"],
    "properties": {
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": _NAME, "parameters": {"type": ["object", "null"]}},
        },
    },
}
_TOOL_CHOICE: Schema = {
    "anyOf": [
        {"enum": ["auto", "none", "required", None]},
        {
            "type": "object",
            "required": ["function"],
            "properties": {
                "type": {"const": "function"},
                "function": {"type": "object", "required": ["name"], "properties": {"name": _NAME}},
            },
        },
    ]
}
_RESPONSE_FORMAT: Schema = {
    "anyOf": [
        {"type": "null"},
        {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": ["text", "json_object"]}},
        },
        {
            "type": "object",
            "required": ["type", "json_schema"],
            "properties": {
                "type": {"const": "json_schema"},
                "json_schema": {
                    "type": "object",
                    "required": ["schema"],
                    "properties": {"schema": {"type": "object"}},
                },
            },
        },
    ]
}
_TOKENS: Schema = {"type": ["integer", "null"], "minimum": 1, "maximum": limits.MAX_TOKENS}


def _chat_request(models: list[str]) -> Schema:
    return {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {
            "model": {"enum": models},
            "messages": {
                "type": "array",
                "items": _MESSAGE,
                "minItems": 1,
                "maxItems": limits.MAX_MESSAGES,
            },
            # As in OpenAI's own description, an optional field may be null (= left out).
            "stream": {"type": ["boolean", "null"]},
            "stream_options": {
                "type": ["object", "null"],
                "properties": {"include_usage": {}},
            },
            "temperature": {"type": ["number", "null"], "minimum": 0, "maximum": 2},
            "max_tokens": _TOKENS,
            "max_completion_tokens": _TOKENS,
            "reasoning_effort": {
                "enum": ["none", "minimal", "low", "medium", "high", "xhigh", None]
            },
            "thinking": {
                "type": ["object", "null"],
                "properties": {
                    "enabled": {"type": ["boolean", "null"]},
                    "budget": {"type": ["integer", "null"], "minimum": 1},
                },
            },
            "n": {"enum": [1, None]},
            "top_p": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "stop": {"type": ["string", "array", "null"], "items": {"type": "string"}},
            "tools": {"type": ["array", "null"], "items": _TOOL, "maxItems": limits.MAX_TOOLS},
            "tool_choice": _TOOL_CHOICE,
            "parallel_tool_calls": {"type": ["boolean", "null"]},
            "response_format": _RESPONSE_FORMAT,
            "ponder": PONDER_EXTENSION,
        },
    }


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Schema]:
    return {str(s): _json(_ERROR, "An OpenAI-shaped error.") for s in statuses}


_OBJECT: Schema = {"type": "object"}
_MODEL: Schema = {
    "type": "object",
    "required": ["id", "object"],
    "properties": {"id": {"type": "string"}, "object": {"const": "model"}},
}

_MODEL_LIST: Schema = {
    "type": "object",
    "properties": {"data": {"type": "array", "items": _MODEL}},
}
_STRING: Schema = {"type": "string"}
_NUMBER: Schema = {"type": "number"}
_SSE_EVENT: Schema = {
    "type": "object",
    "required": ["data"],
    "properties": {"data": {"type": "string"}, "event": {"type": "string"}},
}


def openapi(config: Config) -> Schema:
    models = config.names()
    chat_ok = {
        "description": "A chat.completion, or chat.completion.chunk server-sent events.",
        "content": {
            "application/json": {"schema": _OBJECT},
            # Each event: a chat.completion.chunk (or an error) in "data", "[DONE]" last.
            "text/event-stream": {"schema": _SSE_EVENT},
        },
    }
    conversation = {
        "name": "conversation_id", "in": "path", "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
    }  # fmt: skip
    query = [
        {"name": n, "in": "query", "required": False, "schema": s}
        for n, s in (
            ("model", {"type": "string"}),
            ("mode", {"type": "string"}),
            ("status", {"enum": list(STATUSES)}),
            ("since", {"type": "number"}),
            ("before", {"type": "number"}),
            ("q", {"type": "string"}),
            ("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
            ("sort", {"enum": list(SORTS)}),
            ("min_cost", {"type": "number", "minimum": 0}),
        )
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ponder gateway",
            "version": __version__,
            "description": (
                "OpenAI Chat Completions and Responses and Anthropic Messages, with"
                " thinking-aware extras."
            ),
        },
        "paths": {
            "/v1/chat/completions": {
                "post": {
                    "operationId": "createChatCompletion",
                    "parameters": [
                        {
                            "name": "x-ponder-max-ttfa-ms",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "pattern": "^[0-9]{1,9}(\\.[0-9]+)?$"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _chat_request(models)}},
                    },
                    "responses": {
                        "200": chat_ok,
                        **_errors(400, 401, 404, 413, 429, 502, 503, 504),
                    },
                }
            },
            **door_paths(models, _errors(400, 401, 404, 413, 429, 502, 503, 504)),
            "/v1/models": {
                "get": {
                    "operationId": "listModels",
                    "responses": {"200": _json(_MODEL_LIST, "The models."), **_errors(401)},
                }
            },
            "/v1/models/{model}": {
                "get": {
                    "operationId": "getModel",
                    "parameters": [
                        {"name": "model", "in": "path", "required": True, "schema": _STRING}
                    ],
                    "responses": {"200": _json(_MODEL, "The model."), **_errors(401, 404)},
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "responses": {
                        "200": _json(_OBJECT, "Serving."),
                        "503": _json(_OBJECT, "Draining: shutting down."),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        **_errors(401),
                    },
                }
            },
            "/api/config": {
                "get": {
                    "operationId": "uiConfig",
                    "responses": {"200": _json(_OBJECT, "The web UI's config."), **_errors(401)},
                }
            },
            "/api/traces": {
                "get": {
                    "operationId": "listTraces",
                    "parameters": query,
                    "responses": {
                        "200": _json(_OBJECT, "Recent traces, newest first."),
                        **_errors(400, 401),
                    },
                }
            },
            "/api/traces/{request_id}": {
                "get": {
                    "operationId": "getTrace",
                    "parameters": [
                        {"name": "request_id", "in": "path", "required": True, "schema": _STRING}
                    ],
                    "responses": {"200": _json(_OBJECT, "One trace."), **_errors(401, 404)},
                }
            },
            "/api/conversations": {
                "get": {
                    "operationId": "listConversations",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                        },
                        {"name": "before", "in": "query", "required": False, "schema": _NUMBER},
                    ],
                    "responses": {
                        "200": _json(_OBJECT, "Conversations, most recently active first."),
                        **_errors(400, 401),
                    },
                }
            },
            "/api/conversations/{conversation_id}": {
                "parameters": [conversation],
                "get": {
                    "operationId": "getConversation",
                    "responses": {
                        "200": _json(_OBJECT, "The conversation's turns, oldest first."),
                        **_errors(400, 401, 404),
                    },
                },
                "delete": {
                    "operationId": "deleteConversation",
                    "responses": {
                        "200": _json(_OBJECT, "Deleted, with its traces."),
                        **_errors(400, 401, 404),
                    },
                },
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "responses": {"200": _json(_OBJECT, "This description.")},
                }
            },
        },
    }
