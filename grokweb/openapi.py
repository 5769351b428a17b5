"""Every error answer of the JSON API in its OpenAPI schema, with the body it has.

Every operation can refuse a request: 400 (a parameter or body that is not valid, a NUL
in any text), 401 (no session), 403 (a disabled or pending account, a failed CSRF check,
a member asking for a staff answer); one with a path parameter also 404 (nothing of
yours by that id). All answer `{detail, code, ...}` (grokweb.api). The routers document
their 200 answers; this adds the rest to each operation, so a client (or a schema-driven
fuzzer) finds every status it can meet described. It also says what no text may hold: a
NUL character.
"""
from __future__ import annotations

from typing import Any

ERROR = {
    "title": "Error",
    "type": "object",
    "description": "A refusal: `detail` for a person, `code` for a program (docs/protocol.md, error codes).",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string", "examples": ["bad_request", "unauthorized", "forbidden", "not_found"]},
        "errors": {
            "type": "array", "description": "For `bad_request` from validation: each problem and where it is.",
            "items": {"type": "object", "properties": {"loc": {"type": "array", "items": {"type": "string"}},
                                                         "msg": {"type": "string"}, "type": {"type": "string"}}},
        },
    },
    "required": ["detail", "code"],
}
REFUSALS = {
    "400": "Not valid: a parameter or body of the wrong type or out of range, or text with a NUL "
           "(`bad_request`, or `model_unavailable`, `too_large`).",
    "401": "Not signed in (`unauthorized`).",
    "403": "Not allowed: a disabled or pending account (`account_disabled`, `account_pending`), a failed CSRF "
           "check, or an answer only staff may read (`forbidden`).",
}
NOT_FOUND = {"404": "Nothing of yours by that id: another user's looks the same as none (`not_found`)."}
METHODS = ("get", "put", "post", "patch", "delete")
# Text never holds a NUL (grokweb.input_guard refuses one anywhere in a request): said in the
# schema of every string and every object's property names.
NO_NUL = "^[^\\u0000]*$"


def _no_nul(node: Any) -> None:
    """Mark every plain string and every object's property names in a schema (sub)tree as NUL-free."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            kind = item.get("type")
            if kind == "string" and not {"format", "enum", "const", "pattern"} & set(item):
                item["pattern"] = NO_NUL
            if kind == "object" or "properties" in item or "additionalProperties" in item:
                item.setdefault("propertyNames", {"pattern": NO_NUL})
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with the error answers added to every operation (in place, and returned)."""
    _no_nul(schema.get("components", {}))
    _no_nul(schema.get("paths", {}))
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            answers = operation.setdefault("responses", {})
            refusals = {**REFUSALS, **(NOT_FOUND if "{" in path else {})}
            for status, description in refusals.items():
                answers.setdefault(status, {"description": description, "content": body})
    return schema
