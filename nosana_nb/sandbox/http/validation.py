"""Request validation that answers with the deployment manager's own messages.

The service validates with ajv 8 (``coerceTypes: false``, first error wins except inside
``anyOf``) and Fastify joins the errors as ``"<part><path> <message>"``. The route schemas below
are plain JSON Schema dicts; the same dicts go into the OpenAPI document, so what is documented
is what is enforced. Only the keywords the routes use are implemented; an unknown keyword is a
programming error and raises at import time through :func:`check_schema`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

Schema = dict[str, Any]

_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "enum",
        "const",
        "anyOf",
        "items",
        "description",
        "default",
        "example",
        "additionalProperties",
        "nullable",
    }
)

# ajv-formats "date-time" (full mode): RFC 3339 with a mandatory timezone.
_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):?(\d{2}))$"
)


class RequestValidationError(Exception):
    """A request failed its route schema; ``message`` is the Fastify text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_schema(schema: Schema) -> Schema:
    """Refuse keywords this validator does not implement (returns the schema unchanged)."""
    unknown = set(schema) - _KEYWORDS
    if unknown:
        raise ValueError(f"unsupported schema keywords: {sorted(unknown)}")
    for sub in schema.get("properties", {}).values():
        check_schema(sub)
    for sub in schema.get("anyOf", ()):
        check_schema(sub)
    if isinstance(schema.get("items"), dict):
        check_schema(schema["items"])
    return schema


def is_date_time(text: str) -> bool:
    match = _DATE_TIME.match(text)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        date(year, month, day)
    except ValueError:
        return False
    tz_hour = int(match.group(7) or 0)
    tz_minute = int(match.group(8) or 0)
    return hour <= 23 and minute <= 59 and second <= 60 and tz_hour <= 23 and tz_minute <= 59


def _type_ok(expected: str, value: Any) -> bool:
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "number":  # 1e400 parses to infinity, which no JSON number is
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    if expected == "integer":
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and float(value).is_integer()
        )
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "null":
        return value is None
    raise ValueError(f"unknown JSON type {expected!r}")


def _errors(schema: Schema, value: Any, path: str) -> list[tuple[str, str]]:
    """(instance path, message) pairs, ajv style: the first failure, or all anyOf branches."""
    if "anyOf" in schema:
        collected: list[tuple[str, str]] = []
        for branch in schema["anyOf"]:
            branch_errors = _errors(branch, value, path)
            if not branch_errors:
                return []
            collected.extend(branch_errors)
        collected.append((path, "must match a schema in anyOf"))
        return collected
    expected = schema.get("type")
    if expected is not None:
        types = expected if isinstance(expected, list) else [expected]
        if schema.get("nullable"):
            types = [*types, "null"]
        if not any(_type_ok(t, value) for t in types):
            return [(path, f"must be {','.join(types)}")]
        if value is None:
            return []
    if "const" in schema and value != schema["const"]:
        return [(path, "must be equal to constant")]
    if "enum" in schema and value not in schema["enum"]:
        return [(path, "must be equal to one of the allowed values")]
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "maximum" in schema and value > schema["maximum"]:
            return [(path, f"must be <= {schema['maximum']}")]
        if "minimum" in schema and value < schema["minimum"]:
            return [(path, f"must be >= {schema['minimum']}")]
    if isinstance(value, str):
        length = len(value)
        if "maxLength" in schema and length > schema["maxLength"]:
            return [(path, f"must NOT have more than {schema['maxLength']} characters")]
        if "minLength" in schema and length < schema["minLength"]:
            return [(path, f"must NOT have fewer than {schema['minLength']} characters")]
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            return [(path, f'must match pattern "{schema["pattern"]}"')]
        if schema.get("format") == "date-time" and not is_date_time(value):
            return [(path, 'must match format "date-time"')]
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                return [(path, f"must have required property '{name}'")]
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                found = _errors(sub, value[name], f"{path}/{name}")
                if found:
                    return found
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found = _errors(schema["items"], item, f"{path}/{index}")
            if found:
                return found
    return []


def validate(schema: Schema, value: Any, part: str) -> None:
    """Raise :class:`RequestValidationError` with Fastify's joined message if ``value`` fails."""
    found = _errors(schema, value, "")
    if found:
        raise RequestValidationError(", ".join(f"{part}{path} {msg}" for path, msg in found))


def fastify_400(message: str) -> dict[str, Any]:
    return {
        "statusCode": 400,
        "code": "FST_ERR_VALIDATION",
        "error": "Bad Request",
        "message": message,
    }


def query_to_object(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Node's querystring parse: a repeated key becomes an array (which then fails ``string``)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            previous = out[key]
            out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[key] = value
    return out


def integral(value: Any) -> Any:
    """JSON numbers that are whole become ``int`` (2.0 -> 2) so the store holds integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# -- shared schema pieces -------------------------------------------------------------------
PUBLIC_KEY: Schema = {"type": "string", "minLength": 43, "maxLength": 44}
DATE_TIME: Schema = {"type": "string", "format": "date-time"}
CRON_PATTERN = r"^\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$"
STRATEGIES = ("SIMPLE", "SIMPLE-EXTEND", "SCHEDULED", "INFINITE")
STATUSES = (
    "DRAFT",
    "ERROR",
    "STARTING",
    "RUNNING",
    "STOPPING",
    "STOPPED",
    "INSUFFICIENT_FUNDS",
    "ARCHIVED",
)


def literals(*values: str) -> Schema:
    """A TypeBox union of string literals, as ajv sees it."""
    return {"anyOf": [{"type": "string", "const": v} for v in values]}


def object_schema(properties: Mapping[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {"type": "object", "properties": dict(properties)}
    if required:
        schema["required"] = list(required)
    return check_schema(schema)


PAGINATION_QUERY: dict[str, Schema] = {
    "cursor": {"type": "string", "description": "Opaque cursor from a previous page."},
    "limit": literals("10", "20", "50", "100"),
    "sort_order": literals("asc", "desc"),
}

USER_HEADERS: Schema = object_schema(
    {"x-user-id": PUBLIC_KEY, "authorization": {"type": "string"}},
    ("x-user-id", "authorization"),
)
