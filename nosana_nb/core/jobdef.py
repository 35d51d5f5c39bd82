"""Nosana job definitions: validation, a builder for the common case, and the IPFS CID.

The shapes are transcribed by hand from the ``JobDefinition`` type of the service's API types
(``@nosana/api`` 2.1.8, ``schema.d.ts``) into the small description below; unknown keys are
rejected everywhere except inside ``meta``. On top of the type: op ids are unique, dependencies
name known ops, ``expose`` strings are ports, ranges or ``%%ops/global%%`` literals, and exposed
ports do not collide. All problems are reported at once, each with its path, e.g.
``ops[1].args.image``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import base58

from nosana_nb.core.errors import ValidationError

__all__ = ["JOB_DEFINITION_VERSION", "cid_v0", "container_job", "validate_job_definition"]

JOB_DEFINITION_VERSION = "0.1"
_MAX_PROBLEMS_SHOWN = 10
_MAX_DEPTH = 64
_LITERAL = re.compile(r"^%%(ops|global)\.[^%\s]+%%$")
_RANGE = re.compile(r"^(\d{1,5})-(\d{1,5})$")


# -- the schema, transcribed by hand from the service's JobDefinition type ---------------------
# A small vocabulary of shapes; ``validate_job_definition`` walks the description below.


class _Shape:
    label = "a value"

    def check(self, checker: _Checker, value: Any, path: str) -> None:
        raise NotImplementedError


class _Str(_Shape):
    def __init__(self, *, non_empty: bool = False) -> None:
        self.non_empty = non_empty
        self.label = "a non-empty string" if non_empty else "a string"

    def check(self, checker: _Checker, value: Any, path: str) -> None:
        checker.string(value, path, non_empty=self.non_empty)


class _Num(_Shape):
    """A JSON number; fractions pass, as in the service's ``number`` fields."""

    label = "a number"

    def __init__(self, low: float | None = None, high: float | None = None) -> None:
        self.low, self.high = low, high

    def check(self, checker: _Checker, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            checker.fail(path, f"must be a number; got {_kind(value)}")
        elif not math.isfinite(value):
            checker.fail(path, f"must be a finite number; got {value}")
        elif (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            checker.fail(path, f"must be between {self.low:g} and {self.high:g}; got {value}")


class _Bool(_Shape):
    label = "true or false"

    def check(self, checker: _Checker, value: Any, path: str) -> None:
        checker.boolean(value, path)


class _Any(_Shape):
    label = "any JSON value"

    def check(self, checker: _Checker, value: Any, path: str) -> None:
        return


class _Enum(_Shape):
    def __init__(self, *values: str) -> None:
        self.values = values
        listed = ", ".join(repr(v) for v in values)
        self.label = listed if len(values) == 1 else f"one of {listed}"

    def check(self, checker: _Checker, value: Any, path: str) -> None:
        if not (isinstance(value, str) and value in self.values):
            checker.fail(path, f"must be {self.label}; got {value!r}")


class _List(_Shape):
    def __init__(self, item: _Shape, *, non_empty: bool = False) -> None:
        self.item, self.non_empty = item, non_empty
        self.label = f"a {'non-empty ' if non_empty else ''}list of {item.label}"

    def check(self, checker: _Checker, value: Any, path: str) -> None:
        if not isinstance(value, list):
            checker.fail(path, f"must be {self.label}; got {_kind(value)}")
            return
        if self.non_empty and not value:
            checker.fail(path, f"must be {self.label}; got an empty list")
        for index, item in enumerate(value):
            self.item.check(checker, item, _join(path, index))


class _Map(_Shape):
    """An object whose keys are free and whose values all have one shape."""

    def __init__(self, value: _Shape) -> None:
        self.value = value
        self.label = f"an object of {value.label}"

    def check(self, checker: _Checker, value: Any, path: str) -> None:
        checked = checker.mapping(value, path)
        if checked is not None:
            for key, item in checked.items():
                self.value.check(checker, item, _join(path, key))


class _Obj(_Shape):
    """An object with known fields; ``rest`` is the shape of any other key (None: refused)."""

    def __init__(
        self,
        fields: dict[str, _Shape],
        *,
        required: tuple[str, ...] = (),
        rest: _Shape | None = None,
        label: str = "an object",
    ) -> None:
        self.fields, self.required, self.rest, self.label = fields, required, rest, label

    def check(self, checker: _Checker, value: Any, path: str) -> None:
        checked = checker.mapping(value, path)
        if checked is None:
            return
        for key in self.required:
            checker.required(checked, path, key)
        for key, item in checked.items():
            shape = self.fields.get(key, self.rest)
            if shape is None:
                allowed = ", ".join(sorted(self.fields))
                checker.fail(_join(path, key), f"unknown key; allowed: {allowed}")
            else:
                shape.check(checker, item, _join(path, key))


class _OneOf(_Shape):
    """A union: the value passes when one alternative accepts it; otherwise the problems of
    the alternative that came closest (fewest problems, objects before scalars) are reported."""

    def __init__(self, *alternatives: _Shape, label: str) -> None:
        self.alternatives, self.label = alternatives, label

    def check(self, checker: _Checker, value: Any, path: str) -> None:
        candidates: list[tuple[bool, int, int, list[str]]] = []
        for alternative in self.alternatives:
            trial = _Checker()
            alternative.check(trial, value, path)
            if not trial.problems:
                return
            if _same_kind(alternative, value):
                untagged = not _tag_matches(alternative, value)
                strangers = _unknown_keys(alternative, value)
                candidates.append((untagged, strangers, len(trial.problems), trial.problems))
        if candidates:
            checker.problems.extend(min(candidates, key=lambda c: c[:3])[3])
        else:
            checker.fail(path, f"must be {self.label}; got {_kind(value)}")


def _same_kind(shape: _Shape, value: Any) -> bool:
    """Whether ``value`` is the JSON kind ``shape`` describes (enums count as no match)."""
    if isinstance(shape, _OneOf):
        return any(_same_kind(option, value) for option in shape.alternatives)
    if isinstance(shape, _Obj | _Map):
        return isinstance(value, Mapping)
    if isinstance(shape, _List):
        return isinstance(value, list)
    if isinstance(shape, _Num):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(shape, _Str):
        return isinstance(value, str)
    return False


def _unknown_keys(shape: _Shape, value: Any) -> int:
    """How many of the value's keys an object alternative does not declare."""
    if isinstance(shape, _Obj) and isinstance(value, Mapping) and shape.rest is None:
        return sum(1 for key in value if key not in shape.fields)
    return 0


def _tag_matches(shape: _Shape, value: Any) -> bool:
    """An object alternative whose constant ``type``/``policy`` is the value's own."""
    if not (isinstance(shape, _Obj) and isinstance(value, Mapping)):
        return False
    for tag in ("type", "policy", "__spread__"):
        declared = shape.fields.get(tag)
        if declared is not None and tag in value:
            return not isinstance(declared, _Enum) or value[tag] in declared.values
    return False


def _str_or_list() -> _Shape:
    return _OneOf(_Str(), _List(_Str()), label="a string or a list of strings")


_NUMBER_OR_STRING = _OneOf(_Str(), _Num(), label="a string or a number")
_SPREAD = _Obj(
    {"__spread__": _Str(), "chunked": _Bool()},
    required=("__spread__",),
    label="{__spread__, chunked?}",
)
_HTTP_CHECK = _Obj(
    {
        "type": _Enum("http"),
        "path": _Str(),
        "method": _Enum("GET", "POST", "PUT", "DELETE"),
        "expected_status": _Num(100, 599),
        "headers": _Map(_Str()),
        "body": _Any(),
        "continuous": _Bool(),
    },
    required=("type", "path", "method", "expected_status", "continuous"),
)
_WEBSOCKET_CHECK = _Obj(
    {"type": _Enum("websocket"), "expected_response": _Str(), "continuous": _Bool()},
    required=("type", "expected_response", "continuous"),
)
_EXPOSED_PORT = _Obj(
    {
        "port": _Num(1, 65535),
        "type": _Enum("api", "web", "websocket", "webapi", "none"),
        "health_checks": _List(
            _OneOf(_HTTP_CHECK, _WEBSOCKET_CHECK, label="an http or websocket health check")
        ),
    },
    required=("port",),
)
_EXPOSE_ITEM = _OneOf(
    _Num(1, 65535),
    _Str(),
    _SPREAD,
    _EXPOSED_PORT,
    label="a port, a 'start-end' range, a %%literal%%, {__spread__} or {port, ...}",
)
_EXPOSE = _OneOf(_EXPOSE_ITEM, _List(_EXPOSE_ITEM), label=_EXPOSE_ITEM.label + " or a list")
_RESTART_POLICY = _OneOf(
    _Enum("on-failure", "no", "always", "unless-stopped"),
    _Obj(
        {"policy": _Enum("on-failure"), "restart_tries": _Num(0)},
        required=("policy",),
    ),
    label="'on-failure', 'no', 'always', 'unless-stopped' or {policy: 'on-failure', ...}",
)
_IAM = _Obj(
    {"REGION": _Str(), "ACCESS_KEY_ID": _Str(), "SECRET_ACCESS_KEY": _Str()},
    required=("REGION", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY"),
)
_S3_COMMON = {"type": _Enum("S3"), "target": _Str(), "url": _Str(), "allowWrite": _Bool()}
_RESOURCE = _OneOf(
    _SPREAD,
    _Obj({**_S3_COMMON, "files": _List(_Str()), "IAM": _IAM}, required=("type", "target")),
    _Obj({**_S3_COMMON, "bucket": _Str(), "IAM": _IAM}, required=("type", "target", "bucket")),
    _Obj(
        {
            **_S3_COMMON,
            "buckets": _List(_Obj({"url": _Str(), "files": _List(_Str())}, required=("url",))),
            "IAM": _IAM,
        },
        required=("type", "target", "buckets"),
    ),
    _Obj(
        {
            "type": _Enum("HF"),
            "target": _Str(),
            "repo": _Str(),
            "revision": _Str(),
            "files": _List(_Str()),
            "accessToken": _Str(),
        },
        required=("type", "target", "repo"),
    ),
    _Obj(
        {"type": _Enum("Ollama"), "model": _Str(), "target": _Str()},
        required=("type", "model"),
    ),
    _Enum("__remove-if-empty__"),
    label="a resource (S3, HF, Ollama, {__spread__} or '__remove-if-empty__')",
)
_RUN_ARGS = _Obj(
    {
        "image": _Str(non_empty=True),
        "aliases": _str_or_list(),
        "cmd": _str_or_list(),
        "volumes": _List(
            _Obj(
                {"name": _Str(non_empty=True), "dest": _Str(non_empty=True)},
                required=("name", "dest"),
            )
        ),
        "expose": _EXPOSE,
        "gpu": _Bool(),
        "work_dir": _Str(),
        "entrypoint": _str_or_list(),
        "env": _Map(_Str()),
        "restart_policy": _RESTART_POLICY,
        "private": _Bool(),
        "resources": _List(_RESOURCE),
        "authentication": _Obj(
            {
                "docker": _Obj(
                    {"username": _Str(), "password": _Str(), "email": _Str(), "server": _Str()}
                )
            }
        ),
    },
    required=("image",),
)
_VOLUME_ARGS = _Obj({"name": _Str(non_empty=True)}, required=("name",))
_RESULTS = _Map(
    _OneOf(
        _Str(),
        _Obj(
            {
                "regex": _Str(),
                "logType": _List(_Enum("stdin", "stdout", "stderr", "nodeerr")),
            },
            required=("regex", "logType"),
        ),
        label="a regex string or {regex, logType}",
    )
)
_EXECUTION = _Obj(
    {"group": _Str(), "depends_on": _List(_Str()), "stop_if_dependent_stops": _Bool()}
)
_OP = _Obj(
    {
        "type": _Enum("container/run", "container/create-volume"),
        "id": _Str(non_empty=True),
        "args": _Any(),  # its shape depends on ``type``: checked by _op_args
        "results": _RESULTS,
        "execution": _EXECUTION,
    },
    required=("type", "id", "args"),
)
_SCALAR_OR_LIST = _OneOf(
    _Str(), _Num(), _List(_NUMBER_OR_STRING), label="a string, a number or a list of them"
)
_META = _Obj(
    {"trigger": _Str(), "system_resources": _Map(_NUMBER_OR_STRING)},
    rest=_OneOf(
        _Str(),
        _Num(),
        _List(_NUMBER_OR_STRING),
        _Map(_SCALAR_OR_LIST),
        label="a string, a number, a list of them, or an object of those",
    ),
)
_LOGISTICS_END = _Obj(
    {"type": _Enum("api", "api-listen"), "args": _Obj({"endpoint": _Str()})},
    required=("type", "args"),
)
_JOB_DEFINITION = _Obj(
    {
        "version": _Enum(JOB_DEFINITION_VERSION),
        "type": _Enum("container"),
        "logistics": _Obj(
            {"send": _LOGISTICS_END, "receive": _LOGISTICS_END}, required=("send", "receive")
        ),
        "deployment_id": _Str(),
        "meta": _META,
        "global": _Obj(
            {
                "image": _Str(non_empty=True),
                "gpu": _Bool(),
                "entrypoint": _str_or_list(),
                "env": _Map(_Str()),
                "work_dir": _Str(),
                "variables": _Map(_Str()),
            }
        ),
        "ops": _List(_OP, non_empty=True),
    },
    required=("version", "type", "ops"),
)


class _Checker:
    """Collects every problem with its path instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, what: str) -> None:
        self.problems.append(f"{path}: {what}")

    def mapping(self, value: Any, path: str) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.fail(path, f"must be an object; got {_kind(value)}")
            return None
        for key in value:
            if not isinstance(key, str):
                self.fail(path, f"keys must be strings; got {_kind(key)}")
                return None
        return value

    def required(self, value: Mapping[str, Any], path: str, key: str) -> bool:
        if key not in value:
            self.fail(_join(path, key), "is required")
            return False
        return True

    def string(self, value: Any, path: str, *, non_empty: bool = False) -> bool:
        if not isinstance(value, str):
            self.fail(path, f"must be a string; got {_kind(value)}")
            return False
        if non_empty and not value.strip():
            self.fail(path, "must not be empty")
            return False
        return True

    def boolean(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false; got {_kind(value)}")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _check_json(checker: _Checker, value: Any, path: str, depth: int = 0) -> None:
    """Plain JSON only: the definition is pinned and hashed as JSON."""
    if depth > _MAX_DEPTH:
        checker.fail(path, "is nested too deeply")
    elif isinstance(value, float) and not math.isfinite(value):
        checker.fail(path, f"must be a finite number; got {value}")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                checker.fail(path, f"keys must be strings; got {_kind(key)}")
            else:
                _check_json(checker, item, _join(path, key), depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json(checker, item, _join(path, index), depth + 1)
    elif value is not None and not isinstance(value, str | int | float | bool):
        checker.fail(path, f"must be JSON data; got {_kind(value)}")


def _plain(value: Any, depth: int = 0) -> Any:
    """A deep copy with every Mapping made a dict and every sequence a list (plain JSON data)."""
    if depth > _MAX_DEPTH:
        raise ValidationError(
            f"job definition is nested more than {_MAX_DEPTH} levels deep (a cycle?)",
            argument="job_definition",
        )
    if isinstance(value, Mapping):
        return {key: _plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, depth + 1) for item in value]
    return value


# -- rules the type cannot say: port strings, port collisions, op ids, dependencies ------------


def _port_span(checker: _Checker, value: Any, path: str) -> tuple[float, float] | None:
    """The ports an expose entry takes: a port, a 'start-end' range; None for literals/spreads."""
    if isinstance(value, Mapping):
        value = value.get("port")
        path = _join(path, "port")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if not isinstance(value, str):
        return (value, value) if 1 <= value <= 65535 else None
    if _LITERAL.match(value):
        return None
    match = _RANGE.match(value)
    if match and 1 <= int(match[1]) < int(match[2]) <= 65535:
        return int(match[1]), int(match[2])
    if value.isdigit() and 1 <= int(value) <= 65535:
        return int(value), int(value)
    checker.fail(
        path,
        "must be a port, a 'start-end' range (1 <= start < end <= 65535) or a %%ops/global%% "
        f"literal; got {value!r}",
    )
    return None


def _check_expose_ports(checker: _Checker, expose: Any, path: str) -> None:
    entries = expose if isinstance(expose, list) else [expose]
    spans = []
    for index, entry in enumerate(entries):
        where = _join(path, index) if isinstance(expose, list) else path
        if isinstance(entry, Mapping) and "__spread__" in entry:
            spread = entry["__spread__"]
            if isinstance(spread, str) and not _LITERAL.match(spread):
                checker.fail(
                    _join(where, "__spread__"), "must be a %%ops.x%% or %%global.x%% literal"
                )
            continue
        span = _port_span(checker, entry, where)
        if span is not None:
            spans.append((span, where))
    for index, (span, where) in enumerate(spans):
        for other, other_where in spans[:index]:
            if span[0] <= other[1] and other[0] <= span[1]:
                checker.fail(
                    where, f"overlaps {other_where}; ports must be unique and ranges disjoint"
                )


def _op_args(checker: _Checker, op: Mapping[str, Any], path: str) -> None:
    if "args" not in op:
        return
    where = _join(path, "args")
    if op.get("type") == "container/run":
        _RUN_ARGS.check(checker, op["args"], where)
        args = op["args"]
        if isinstance(args, Mapping) and "expose" in args:
            _check_expose_ports(checker, args["expose"], _join(where, "expose"))
    elif op.get("type") == "container/create-volume":
        _VOLUME_ARGS.check(checker, op["args"], where)


def _check_ops(checker: _Checker, ops: Any) -> None:
    if not isinstance(ops, list):
        return
    ids: set[str] = set()
    for index, op in enumerate(ops):
        op_id = op.get("id") if isinstance(op, Mapping) else None
        if isinstance(op_id, str) and op_id in ids:
            checker.fail(f"ops[{index}].id", f"duplicate op id {op_id!r}; ids must be unique")
        elif isinstance(op_id, str):
            ids.add(op_id)
    for index, op in enumerate(ops):
        if not isinstance(op, Mapping):
            continue
        path = f"ops[{index}]"
        _op_args(checker, op, path)
        execution = op.get("execution")
        depends = execution.get("depends_on") if isinstance(execution, Mapping) else None
        for position, dependency in enumerate(depends if isinstance(depends, list) else []):
            where = f"{path}.execution.depends_on[{position}]"
            if dependency == op.get("id"):
                checker.fail(where, "an op cannot depend on itself")
            elif isinstance(dependency, str) and dependency not in ids:
                checker.fail(where, f"unknown op id {dependency!r}; known: {sorted(ids)}")


def validate_job_definition(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Check a job definition and return a deep, plain-dict copy of it.

    Args:
        obj: the job definition (a mapping, as JSON would give it).

    Returns:
        A deep copy made of plain dicts and lists.

    Raises:
        ValidationError: (``argument="job_definition"``) listing every problem with its path.
    """
    checker = _Checker()
    plain = _plain(obj)
    if not isinstance(plain, Mapping):
        checker.fail("job_definition", f"must be an object; got {_kind(plain)}")
    else:
        _JOB_DEFINITION.check(checker, plain, "")
        _check_ops(checker, plain.get("ops"))
        _check_json(checker, plain, "")
    if checker.problems:
        shown = checker.problems[:_MAX_PROBLEMS_SHOWN]
        more = len(checker.problems) - len(shown)
        lines = "\n  - ".join(shown) + (f"\n  (and {more} more)" if more > 0 else "")
        raise ValidationError(f"Invalid job definition:\n  - {lines}", argument="job_definition")
    result: dict[str, Any] = plain
    return result


def container_job(
    image: str,
    cmd: str | Sequence[str] | None = None,
    *,
    op_id: str = "run",
    gpu: bool = True,
    expose: Any = None,
    env: Mapping[str, str] | None = None,
    **args: Any,
) -> dict[str, Any]:
    """A validated one-container job definition; extra keyword args go into ``ops[0].args``.

    Args:
        image: the container image, e.g. ``"docker.io/nosana/pytorch-jupyter:latest"``.
        cmd: the command, a string or a list of arguments.
        op_id: the op's id.
        gpu: give the container the GPU.
        expose: a port (or ports) to expose as the deployment's endpoint.
        env: environment variables for the container.
        args: more ``container/run`` arguments, as the job-definition schema names them.

    Returns:
        The job definition, checked.
    """
    op_args: dict[str, Any] = {"image": image, "gpu": gpu}
    if cmd is not None:
        plain_list = isinstance(cmd, Sequence) and not isinstance(cmd, str)
        op_args["cmd"] = list(cmd) if plain_list else cmd
    if expose is not None:
        op_args["expose"] = expose
    if env is not None:
        op_args["env"] = dict(env) if isinstance(env, Mapping) else env
    op_args.update(args)
    return validate_job_definition(
        {
            "version": JOB_DEFINITION_VERSION,
            "type": "container",
            "ops": [{"type": "container/run", "id": op_id, "args": op_args}],
        }
    )


def cid_v0(obj: Any) -> str:
    """The IPFS CIDv0 of ``obj``'s canonical JSON: base58(0x12 0x20 || sha256(bytes))."""
    checker = _Checker()
    _check_json(checker, obj, "value")
    if checker.problems:
        raise ValidationError(
            "cannot hash: " + "; ".join(checker.problems[:_MAX_PROBLEMS_SHOWN]), argument="obj"
        )
    canonical = json.dumps(_plain(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    return base58.b58encode(b"\x12\x20" + digest).decode("ascii")
