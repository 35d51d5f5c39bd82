"""Job definitions as the deployment manager handles them: validation and endpoint URLs.

Validation follows the ``JobDefinition`` type of the service's API types, described below as
a JSON-Schema-like tree (strict keys except inside ``meta``/``global``/``logistics``, as the
kit checks them); problems are reported as ``$input.<path>: <expected>`` like the service's
create-revision 400 message. Endpoint URLs are derived as the service derives
them, so they match across the two (see :func:`endpoints_for`).
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
from typing import Any

import base58

Doc = dict[str, Any]

# -- the JobDefinition type of the service's API types, as a JSON-Schema-like description ------
# Transcribed by hand from ``components.schemas.JobDefinition`` (``@nosana/api`` 2.1.8). Each
# node may carry ``expected``: the type text a typia message shows for it. Objects are strict
# (``additionalProperties`` false) except ``meta`` (typed index signature), ``global`` and
# ``logistics``, which the kit does not check key by key.

Schema = dict[str, Any]


def _string(expected: str = "string") -> Schema:
    return {"type": "string", "expected": expected}


def _number(expected: str = "number") -> Schema:
    return {"type": "number", "expected": expected}


def _boolean() -> Schema:
    return {"type": "boolean", "expected": "boolean"}


def _enum(*values: str) -> Schema:
    quoted = " | ".join(f'"{v}"' for v in values)
    return {"enum": list(values), "expected": quoted if len(values) == 1 else f"({quoted})"}


def _array(items: Schema, expected: str) -> Schema:
    return {"type": "array", "items": items, "expected": expected}


def _record(values: Schema, expected: str) -> Schema:
    return {"type": "object", "additionalProperties": values, "expected": expected}


def _object(
    properties: dict[str, Schema], required: tuple[str, ...] = (), *, name: str, strict: bool = True
) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": not strict,
        "expected": name,
    }


def _any_of(*options: Schema, expected: str) -> Schema:
    return {"anyOf": list(options), "expected": expected}


_STRINGS = _any_of(
    _string(), _array(_string(), "Array<string>"), expected="(Array<string> | string)"
)
_SPREAD = _object(
    {"__spread__": _string(), "chunked": _boolean()}, ("__spread__",), name="SpreadMarker"
)
_HEALTH_CHECK = _any_of(
    _object(
        {
            "type": _enum("http"),
            "path": _string(),
            "method": _enum("GET", "POST", "PUT", "DELETE"),
            "expected_status": _number(),
            "headers": _record(_string(), "Record<string, string>"),
            "body": {"expected": "unknown"},
            "continuous": _boolean(),
        },
        ("type", "path", "method", "expected_status", "continuous"),
        name="HttpHealthCheck",
    ),
    _object(
        {"type": _enum("websocket"), "expected_response": _string(), "continuous": _boolean()},
        ("type", "expected_response", "continuous"),
        name="WebSocketHealthCheck",
    ),
    expected="(HttpHealthCheck | WebSocketHealthCheck)",
)
_EXPOSE_ITEM = _any_of(
    _number(),
    _string(),
    _SPREAD,
    _object(
        {
            "port": _number(),
            "type": _enum("api", "web", "websocket", "webapi", "none"),
            "health_checks": _array(_HEALTH_CHECK, "Array<HealthCheck>"),
        },
        ("port",),
        name="ExposedPort",
    ),
    expected="(ExposedPort | SpreadMarker | number | string)",
)
_IAM = _object(
    {"REGION": _string(), "ACCESS_KEY_ID": _string(), "SECRET_ACCESS_KEY": _string()},
    ("REGION", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY"),
    name="S3Auth",
)


def _s3(extra: dict[str, Schema], required: tuple[str, ...], name: str) -> Schema:
    common = {"type": _enum("S3"), "target": _string(), "url": _string(), "allowWrite": _boolean()}
    return _object({**common, **extra, "IAM": _IAM}, ("type", "target", *required), name=name)


_RESOURCE = _any_of(
    _SPREAD,
    _s3({"files": _array(_string(), "Array<string>")}, (), "S3Unsecure"),
    _s3({"bucket": _string()}, ("bucket",), "S3Bucket"),
    _s3(
        {
            "buckets": _array(
                _object(
                    {"url": _string(), "files": _array(_string(), "Array<string>")},
                    ("url",),
                    name="S3BucketEntry",
                ),
                "Array<S3BucketEntry>",
            )
        },
        ("buckets",),
        "S3Buckets",
    ),
    _object(
        {
            "type": _enum("HF"),
            "target": _string(),
            "repo": _string(),
            "revision": _string(),
            "files": _array(_string(), "Array<string>"),
            "accessToken": _string(),
        },
        ("type", "target", "repo"),
        name="ResourceHF",
    ),
    _object(
        {"type": _enum("Ollama"), "model": _string(), "target": _string()},
        ("type", "model"),
        name="ResourceOllama",
    ),
    _enum("__remove-if-empty__"),
    expected='(RequiredResource | SpreadMarker | "__remove-if-empty__")',
)
RUN_ARGS: Schema = _object(
    {
        "image": _string(),
        "aliases": _STRINGS,
        "cmd": _STRINGS,
        "volumes": _array(
            _object({"name": _string(), "dest": _string()}, ("name", "dest"), name="Volume"),
            "Array<Volume>",
        ),
        "expose": _any_of(
            _EXPOSE_ITEM,
            _array(_EXPOSE_ITEM, "Array<ExposedPort | SpreadMarker | number | string>"),
            expected="(ExposedPort | SpreadMarker | number | string | Array<...>)",
        ),
        "gpu": _boolean(),
        "work_dir": _string(),
        "entrypoint": _STRINGS,
        "env": _record(_string(), "Record<string, string>"),
        "restart_policy": _any_of(
            _enum("on-failure", "no", "always", "unless-stopped"),
            _object(
                {"policy": _enum("on-failure"), "restart_tries": _number()},
                ("policy",),
                name="RestartPolicy",
            ),
            expected='(RestartPolicy | "always" | "no" | "on-failure" | "unless-stopped")',
        ),
        "private": _boolean(),
        "resources": _array(_RESOURCE, "Array<RequiredResource>"),
        "authentication": _object(
            {
                "docker": _object(
                    {
                        "username": _string(),
                        "password": _string(),
                        "email": _string(),
                        "server": _string(),
                    },
                    name="DockerAuth",
                )
            },
            name="Authentication",
        ),
    },
    ("image",),
    name="ContainerRunArgs",
)
VOLUME_ARGS: Schema = _object({"name": _string()}, ("name",), name="ContainerCreateVolumeArgs")
_SCALARS = _any_of(_string(), _number(), expected="(number | string)")
_META_VALUE = _any_of(
    _string(),
    _number(),
    _array(_SCALARS, "Array<number | string>"),
    _record(
        _any_of(
            _string(),
            _number(),
            _array(_SCALARS, "Array<number | string>"),
            expected="(Array<number | string> | number | string)",
        ),
        "Record<string, ...>",
    ),
    expected="(Array<number | string> | Record<string, ...> | number | string)",
)
_LOGISTICS_END = _object(
    {
        "type": _enum("api", "api-listen"),
        "args": _object({"endpoint": _string()}, name="Partial<{ endpoint: string }>"),
    },
    ("type", "args"),
    name="LogisticsEnd",
    strict=False,
)
OPERATION: Schema = _object(
    {
        "type": _enum("container/run", "container/create-volume"),
        "id": _string(),
        "args": {"type": "object", "expected": "(ContainerRunArgs | ContainerCreateVolumeArgs)"},
        "results": _record(
            _any_of(
                _string(),
                _object(
                    {
                        "regex": _string(),
                        "logType": _array(
                            _enum("stdin", "stdout", "stderr", "nodeerr"),
                            'Array<"stdin" | "stdout" | "stderr" | "nodeerr">',
                        ),
                    },
                    ("regex", "logType"),
                    name="OperationResult",
                ),
                expected="(OperationResult | string)",
            ),
            "Record<string, OperationResult | string>",
        ),
        "execution": _object(
            {
                "group": _string(),
                "depends_on": _array(_string(), "Array<string>"),
                "stop_if_dependent_stops": _boolean(),
            },
            name="Execution",
        ),
    },
    ("type", "id", "args"),
    name="Operation",
)
JOB_DEFINITION: Schema = _object(
    {
        "version": _enum("0.1"),
        "type": _enum("container"),
        "logistics": _object(
            {"send": _LOGISTICS_END, "receive": _LOGISTICS_END},
            ("send", "receive"),
            name="Logistics",
            strict=False,
        ),
        "deployment_id": _string(),
        "meta": {
            **_object(
                {
                    "trigger": _string(),
                    "system_resources": _record(_SCALARS, "Record<string, number | string>"),
                },
                name="Metadata",
            ),
            "additionalProperties": _META_VALUE,
        },
        "global": _object(
            {
                "image": _string(),
                "gpu": _boolean(),
                "entrypoint": _STRINGS,
                "env": _record(_string(), "Record<string, string>"),
                "work_dir": _string(),
                "variables": _record(_string(), "Record<string, string>"),
            },
            name="Global",
            strict=False,
        ),
        "ops": {**_array(OPERATION, "Array<Operation>"), "minItems": 1},
    },
    ("version", "type", "ops"),
    name="JobDefinition",
)

_RANGE = re.compile(r"^(\d+)-(\d+)$")
_LITERAL = re.compile(r"^%%(ops|global)\.[^%]+%%$")


class JobDefinitionError(ValueError):
    """Typia-style problems, joined like the service's message."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(", ".join(problems))
        self.problems = problems


def _type_ok(schema: Schema, value: Any) -> bool:
    kind = schema.get("type")
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return True


def _tag_matches(schema: Schema, value: Any) -> bool:
    """An object alternative whose ``type`` (or ``policy``) constant is the value's own."""
    if not isinstance(value, dict):
        return False
    for tag in ("type", "policy", "__spread__"):
        declared = schema.get("properties", {}).get(tag)
        if declared is not None and tag in value:
            return "enum" not in declared or value[tag] in declared["enum"]
    return False


def _shape_fits(schema: Schema, value: Any) -> bool:
    """Whether ``value`` has the JSON kind of ``schema`` (or of one of its alternatives)."""
    if "anyOf" in schema:
        return any(_shape_fits(option, value) for option in schema["anyOf"])
    return "enum" not in schema and _type_ok(schema, value)


def _check(schema: Schema, value: Any, path: str, problems: list[str]) -> None:
    """Append ``path: expected`` for every place ``value`` does not fit ``schema``."""
    if "anyOf" in schema:
        attempts = []
        for option in schema["anyOf"]:
            found: list[str] = []
            _check(option, value, path, found)
            if not found:
                return
            if _shape_fits(option, value):
                declared = option.get("properties", {})
                strangers = (
                    sum(1 for key in value if key not in declared) if isinstance(value, dict) else 0
                )
                rank = (not _tag_matches(option, value), strangers)
                attempts.append((*rank, len(found), found))
        if attempts:  # show why the closest alternative of the value's shape failed
            problems.extend(min(attempts, key=lambda a: a[:3])[3])
        else:
            problems.append(f"{path}: {schema['expected']}")
        return
    if "enum" in schema:
        if value not in schema["enum"]:
            problems.append(f"{path}: {schema['expected']}")
        return
    if not _type_ok(schema, value):
        problems.append(f"{path}: {schema['expected']}")
        return
    if isinstance(value, list) and "items" in schema:
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{path}: {schema['expected']} (at least one)")
        for index, item in enumerate(value):
            _check(schema["items"], item, f"{path}[{index}]", problems)
    if isinstance(value, dict) and ("properties" in schema or "additionalProperties" in schema):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                problems.append(f"{path}.{key}: {properties[key]['expected']}")
        extra = schema.get("additionalProperties", False)
        for key, item in value.items():
            if key in properties:
                _check(properties[key], item, f"{path}.{key}", problems)
            elif isinstance(extra, dict):
                _check(extra, item, f"{path}.{key}", problems)
            elif extra is False:
                problems.append(f"{path}.{key}: undefined")


_MALFORMED = "malformed"


def _port_span(value: Any) -> tuple[float, float] | str | None:
    """Ports an expose entry takes; None for literals and spreads; _MALFORMED otherwise."""
    if isinstance(value, dict):
        if "__spread__" in value:
            return None if _LITERAL.match(str(value["__spread__"])) else _MALFORMED
        value = value.get("port")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None  # the type check already reported it
    if not isinstance(value, str):
        return (value, value) if 1 <= value <= 65535 else _MALFORMED
    if _LITERAL.match(value):
        return None
    match = _RANGE.match(value)
    if match and 1 <= int(match[1]) < int(match[2]) <= 65535:
        return int(match[1]), int(match[2])
    if value.isdigit() and 1 <= int(value) <= 65535:
        return int(value), int(value)
    return _MALFORMED


def _check_expose_ports(expose: Any, path: str, problems: list[str]) -> None:
    items = expose if isinstance(expose, list) else [expose]
    spans: list[tuple[float, float]] = []
    for index, item in enumerate(items):
        where = f"{path}[{index}]" if isinstance(expose, list) else path
        span = _port_span(item)
        if span == _MALFORMED:
            if isinstance(item, dict) and "__spread__" in item:
                problems.append(f'{where}.__spread__: ("%%ops.*%%" | "%%global.*%%")')
            else:
                target = f"{where}.port" if isinstance(item, dict) else where
                problems.append(
                    f'{target}: (number | `${{number}}-${{number}}` | "%%ops.*%%" | "%%global.*%%")'
                )
        elif isinstance(span, tuple):
            if any(span[0] <= other[1] and other[0] <= span[1] for other in spans):
                problems.append(f"{where}: unique port, disjoint ranges")
            spans.append(span)


def validate_job_definition(definition: Any) -> Doc:
    """Return a deep copy of a valid definition, or raise :class:`JobDefinitionError`."""
    problems: list[str] = []
    if not isinstance(definition, dict):
        raise JobDefinitionError(["$input: JobDefinition"])
    _check(JOB_DEFINITION, definition, "$input", problems)
    ops: list[Any] = definition["ops"] if isinstance(definition.get("ops"), list) else []
    ids: set[str] = set()
    for index, op in enumerate(ops):
        if not isinstance(op, dict):
            continue
        path = f"$input.ops[{index}]"
        op_id = op.get("id")
        if isinstance(op_id, str) and op_id in ids:
            problems.append(f"{path}.id: unique op id")
        elif isinstance(op_id, str):
            ids.add(op_id)
        args = op.get("args")
        if op.get("type") == "container/run":
            _check(RUN_ARGS, args, f"{path}.args", problems)
            if isinstance(args, dict) and "expose" in args:
                _check_expose_ports(args["expose"], f"{path}.args.expose", problems)
        elif op.get("type") == "container/create-volume":
            _check(VOLUME_ARGS, args, f"{path}.args", problems)
    if problems:
        raise JobDefinitionError(problems)
    return copy.deepcopy(definition)


def stored_definition(definition: Doc, deployment_id: str) -> Doc:
    """What the service pins and stores: plus ``deployment_id`` and ``meta.trigger``."""
    stored = copy.deepcopy(definition)
    stored["deployment_id"] = deployment_id
    meta = stored.get("meta")
    stored["meta"] = {**(meta if isinstance(meta, dict) else {}), "trigger": "deployment-manager"}
    return stored


def _b58_sha512(text: str, length: int) -> str:
    return base58.b58encode(hashlib.sha512(text.encode()).digest()).decode()[:length]


def endpoints_for(definition: Doc, *, deployment_id: str, vault: str, domain: str) -> list[Doc]:
    """One URL per exposing op (the port index in its hash is always 0), one entry per port."""
    flow_hash = _b58_sha512(f"{deployment_id}:{vault}", 45)
    out: list[Doc] = []
    for op in definition.get("ops") or []:
        if op.get("type") != "container/run":
            continue
        expose = (op.get("args") or {}).get("expose")
        if expose is None:
            continue
        op_id = str(op.get("id"))
        url = f"https://{_b58_sha512(f'{op_id}:0:{flow_hash}', 44)}.{domain}"
        items = expose if isinstance(expose, list) else [expose]
        for item in items:
            port = item.get("port") if isinstance(item, dict) else item
            if port is None or isinstance(port, dict):
                continue
            out.append({"opId": op_id, "port": port, "url": url})
    return out
