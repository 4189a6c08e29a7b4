"""``json_schema``: the answer must be JSON matching a schema: ``schema`` from the options,
else the request's ``response_format`` (``json_schema``'s schema; ``json_object`` means any
JSON object). The answer may be bare JSON or one fenced ```json block. Validation is the
``jsonschema`` package (Draft 2020-12 unless the schema names another ``$schema``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from ponder.bench.extract import last_fenced
from ponder.request import ChatRequest
from ponder.verify.base import Judgement, VerifierOptionError

ANY_OBJECT: Mapping[str, Any] = {"type": "object"}


class JsonSchemaVerifier:
    name: ClassVar[str] = "json_schema"
    request_options: ClassVar[frozenset[str]] = frozenset({"schema"})

    def schema_for(self, request: ChatRequest, options: Mapping[str, Any]) -> Mapping[str, Any]:
        given = options.get("schema")
        if given is not None:
            if not isinstance(given, Mapping):
                raise VerifierOptionError("The json_schema verifier's schema must be an object.")
            return given
        fmt = request.response_format
        if fmt is not None:
            return fmt.schema if fmt.schema is not None else ANY_OBJECT
        raise VerifierOptionError(
            'The json_schema verifier needs a schema: give {"schema": {...}} in ponder.verify'
            " or send response_format."
        )

    def applies(self, request: ChatRequest, options: Mapping[str, Any]) -> bool:
        return options.get("schema") is not None or request.response_format is not None

    def check_options(self, request: ChatRequest, options: Mapping[str, Any]) -> None:
        import jsonschema

        schema = self.schema_for(request, options)
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise VerifierOptionError(
                f"The schema is not a valid JSON Schema: {exc.message}."
            ) from None

    def judge(self, request: ChatRequest, answer: str, options: Mapping[str, Any]) -> Judgement:
        import jsonschema

        schema = self.schema_for(request, options)
        text = last_fenced(answer, ("json",)) or answer.strip()
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            return Judgement(False, f"the answer is not JSON: {exc.msg} at position {exc.pos}")
        validator = jsonschema.validators.validator_for(schema)(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "the top level"
            return Judgement(
                False, f"the JSON does not match the schema at {where}: {error.message}"
            )
        return Judgement(True, "the JSON matches the schema")
