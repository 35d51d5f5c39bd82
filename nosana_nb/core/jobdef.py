"""Nosana job definitions: validation, a builder for the common case, and the IPFS CID.

The rules follow the official job-definition schema of the Nosana SDKs: unknown keys are
rejected everywhere except inside ``meta``, op ids are unique, and ``expose`` ports do not
collide. All problems are reported at once, each with its path, e.g. ``ops[1].args.image``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import base58

from nosana_nb.core.errors import ValidationError

__all__ = ["JOB_DEFINITION_VERSION", "cid_v0", "container_job", "validate_job_definition"]

JOB_DEFINITION_VERSION = "0.1"
_MAX_PROBLEMS_SHOWN = 10
_MAX_DEPTH = 64
_OP_TYPES = ("container/run", "container/create-volume")
_EXPOSE_TYPES = ("web", "api", "websocket", "webapi", "none")
_HTTP_METHODS = ("GET", "POST", "PUT", "DELETE")
_LOGISTICS_TYPES = ("api", "api-listen")
_LOG_TYPES = ("stdin", "stdout", "stderr", "nodeerr")
_LITERAL = re.compile(r"^%%(ops|global)\.[^%\s]+%%$")
_RANGE = re.compile(r"^(\d{1,5})-(\d{1,5})$")
_TOP_KEYS = {"version", "type", "ops", "meta", "global", "logistics", "deployment_id"}
_OP_KEYS = {"id", "type", "args", "results", "execution"}
_RUN_ARGS = {
    "image",
    "cmd",
    "entrypoint",
    "env",
    "work_dir",
    "gpu",
    "required_vram",
    "expose",
    "private",
    "volumes",
    "output",
    "aliases",
    "resources",
    "authentication",
}
_GLOBAL_KEYS = {"image", "gpu", "entrypoint", "env", "work_dir", "variables"}


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

    def keys(self, value: Mapping[str, Any], path: str, allowed: set[str]) -> None:
        for key in sorted(set(value) - allowed):
            self.fail(_join(path, key), f"unknown key; allowed: {', '.join(sorted(allowed))}")

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

    def number(self, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, f"must be a number; got {_kind(value)}")
        elif not math.isfinite(value) or value < 0:
            self.fail(path, f"must be a finite number >= 0; got {value}")

    def str_or_str_list(self, value: Any, path: str) -> None:
        if isinstance(value, str):
            return
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return
        self.fail(path, f"must be a string or a list of strings; got {_kind(value)}")

    def str_map(self, value: Any, path: str) -> None:
        checked = self.mapping(value, path)
        if checked is not None:
            for key, item in checked.items():
                if not isinstance(item, str):
                    self.fail(_join(path, key), f"must be a string; got {_kind(item)}")

    def optional(self, value: Mapping[str, Any], path: str, checks: dict[str, _Check]) -> None:
        for key, check in checks.items():
            if key in value:
                check(self, value[key], _join(path, key))


_Check = Callable[[_Checker, Any, str], None]


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


# -- expose ----------------------------------------------------------------------------------


def _port(checker: _Checker, value: Any, path: str) -> int | None:
    if type(value) is not int or not 1 <= value <= 65535:
        checker.fail(path, f"must be a port number 1-65535; got {value!r}")
        return None
    return value


def _port_or_range(checker: _Checker, value: Any, path: str) -> tuple[int, int] | None:
    """A port, a 'start-end' range (start < end), or a %%literal%% (None: nothing to compare)."""
    if isinstance(value, str):
        if _LITERAL.match(value):
            return None
        match = _RANGE.match(value)
        if not match:
            checker.fail(
                path,
                f"must be a port, a 'start-end' range or a %%ops/global%% literal; got {value!r}",
            )
            return None
        start, end = int(match[1]), int(match[2])
        if not (1 <= start < end <= 65535):
            checker.fail(path, f"range must satisfy 1 <= start < end <= 65535; got {value!r}")
            return None
        return start, end
    port = _port(checker, value, path)
    return None if port is None else (port, port)


def _health_check(checker: _Checker, value: Any, path: str) -> None:
    check = checker.mapping(value, path)
    if check is None:
        return
    kind = check.get("type")
    if kind == "http":
        checker.keys(
            check,
            path,
            {"type", "path", "method", "expected_status", "headers", "body", "continuous"},
        )
        if checker.required(check, path, "path"):
            checker.string(check["path"], _join(path, "path"))
        if checker.required(check, path, "method") and check["method"] not in _HTTP_METHODS:
            checker.fail(_join(path, "method"), f"must be one of {', '.join(_HTTP_METHODS)}")
        if checker.required(check, path, "expected_status"):
            status = check["expected_status"]
            if type(status) is not int or not 100 <= status <= 599:
                checker.fail(_join(path, "expected_status"), "must be an HTTP status 100-599")
        if "headers" in check:
            checker.str_map(check["headers"], _join(path, "headers"))
    elif kind == "websocket":
        checker.keys(check, path, {"type", "expected_response", "continuous"})
        if checker.required(check, path, "expected_response"):
            checker.string(check["expected_response"], _join(path, "expected_response"))
    else:
        checker.fail(_join(path, "type"), "must be 'http' or 'websocket'")
        return
    if checker.required(check, path, "continuous"):
        checker.boolean(check["continuous"], _join(path, "continuous"))


def _expose_entry(checker: _Checker, value: Any, path: str) -> tuple[int, int] | None:
    if not isinstance(value, Mapping):
        return _port_or_range(checker, value, path)
    checker.keys(value, path, {"port", "type", "health_checks"})
    if "type" in value and value["type"] not in _EXPOSE_TYPES:
        checker.fail(_join(path, "type"), f"must be one of {', '.join(_EXPOSE_TYPES)}")
    if "health_checks" in value:
        checks = value["health_checks"]
        if not isinstance(checks, list):
            checker.fail(_join(path, "health_checks"), "must be a list")
        else:
            for index, check in enumerate(checks):
                _health_check(checker, check, _join(_join(path, "health_checks"), index))
    if not checker.required(value, path, "port"):
        return None
    return _port_or_range(checker, value["port"], _join(path, "port"))


def _expose(checker: _Checker, value: Any, path: str) -> None:
    if isinstance(value, Mapping) and set(value) == {"__spread__"}:
        spread = value["__spread__"]
        if not (isinstance(spread, str) and _LITERAL.match(spread)):
            checker.fail(_join(path, "__spread__"), "must be a %%ops.x%% or %%global.x%% literal")
        return
    if not isinstance(value, list):
        _port_or_range(checker, value, path)
        return
    spans = [
        (span, _join(path, index))
        for index, entry in enumerate(value)
        if (span := _expose_entry(checker, entry, _join(path, index))) is not None
    ]
    for index, (span, where) in enumerate(spans):
        for other, other_where in spans[:index]:
            if span[0] <= other[1] and other[0] <= span[1]:
                checker.fail(
                    where, f"overlaps {other_where}; ports must be unique and ranges disjoint"
                )


# -- ops ---------------------------------------------------------------------------------------


def _volumes(checker: _Checker, value: Any, path: str) -> None:
    if not isinstance(value, list):
        checker.fail(path, "must be a list of {name, dest}")
        return
    for index, volume in enumerate(value):
        where = _join(path, index)
        item = checker.mapping(volume, where)
        if item is not None:
            checker.keys(item, where, {"name", "dest"})
            for key in ("name", "dest"):
                if checker.required(item, where, key):
                    checker.string(item[key], _join(where, key), non_empty=True)


def _typed(kind: type | tuple[type, ...], label: str) -> _Check:
    def check(checker: _Checker, value: Any, path: str) -> None:
        if not isinstance(value, kind):
            checker.fail(path, f"must be {label}; got {_kind(value)}")

    return check


def _string(*, non_empty: bool = False) -> _Check:
    def check(checker: _Checker, value: Any, path: str) -> None:
        checker.string(value, path, non_empty=non_empty)

    return check


_RUN_ARG_CHECKS: dict[str, _Check] = {
    "cmd": _Checker.str_or_str_list,
    "entrypoint": _Checker.str_or_str_list,
    "env": _Checker.str_map,
    "work_dir": _string(),
    "gpu": _Checker.boolean,
    "required_vram": _Checker.number,
    "expose": _expose,
    "private": _Checker.boolean,
    "volumes": _volumes,
    "output": _string(),
    "aliases": _typed((list, Mapping), "a list or an object"),
    "resources": _typed(list, "a list"),
    "authentication": _typed(Mapping, "an object"),
}


def _run_args(checker: _Checker, args: Mapping[str, Any], path: str) -> None:
    checker.keys(args, path, _RUN_ARGS)
    if checker.required(args, path, "image"):
        checker.string(args["image"], _join(path, "image"), non_empty=True)
    checker.optional(args, path, _RUN_ARG_CHECKS)


def _results(checker: _Checker, value: Any, path: str) -> None:
    results = checker.mapping(value, path)
    if results is None:
        return
    for name, rule in results.items():
        where = _join(path, name)
        if isinstance(rule, str):
            continue
        item = checker.mapping(rule, where)
        if item is None:
            continue
        checker.keys(item, where, {"regex", "logType"})
        if checker.required(item, where, "regex"):
            checker.string(item["regex"], _join(where, "regex"))
        log_types = item.get("logType", [])
        if not (
            isinstance(log_types, list)
            and all(t in _LOG_TYPES for t in log_types)
            and len(set(log_types)) == len(log_types)
            and len(log_types) <= 4
        ):
            checker.fail(
                _join(where, "logType"), f"must be unique values of {', '.join(_LOG_TYPES)}"
            )


def _execution(checker: _Checker, value: Any, path: str, op_ids: set[str], own_id: Any) -> None:
    execution = checker.mapping(value, path)
    if execution is None:
        return
    checker.keys(execution, path, {"group", "depends_on", "stop_if_dependent_stops"})
    if "group" in execution:
        checker.string(execution["group"], _join(path, "group"))
    if "stop_if_dependent_stops" in execution:
        checker.boolean(
            execution["stop_if_dependent_stops"], _join(path, "stop_if_dependent_stops")
        )
    depends = execution.get("depends_on", [])
    if not isinstance(depends, list):
        checker.fail(_join(path, "depends_on"), "must be a list of op ids")
        return
    for index, dependency in enumerate(depends):
        where = _join(_join(path, "depends_on"), index)
        if dependency == own_id:
            checker.fail(where, "an op cannot depend on itself")
        elif dependency not in op_ids:
            checker.fail(where, f"unknown op id {dependency!r}; known: {sorted(op_ids)}")


def _op(checker: _Checker, value: Any, path: str, op_ids: set[str]) -> None:
    op = checker.mapping(value, path)
    if op is None:
        return
    checker.keys(op, path, _OP_KEYS)
    if checker.required(op, path, "id"):
        checker.string(op["id"], _join(path, "id"), non_empty=True)
    kind = op.get("type")
    if kind not in _OP_TYPES:
        checker.fail(_join(path, "type"), f"must be one of {', '.join(_OP_TYPES)}; got {kind!r}")
    if checker.required(op, path, "args"):
        args = checker.mapping(op["args"], _join(path, "args"))
        if args is not None and kind == "container/run":
            _run_args(checker, args, _join(path, "args"))
        elif args is not None and kind == "container/create-volume":
            checker.keys(args, _join(path, "args"), {"name"})
            if checker.required(args, _join(path, "args"), "name"):
                checker.string(args["name"], _join(path, "args.name"), non_empty=True)
    if "results" in op:
        _results(checker, op["results"], _join(path, "results"))
    if "execution" in op:
        _execution(checker, op["execution"], _join(path, "execution"), op_ids, op.get("id"))


def _ops(checker: _Checker, value: Any) -> None:
    if not isinstance(value, list) or not value:
        checker.fail("ops", f"must be a non-empty list of operations; got {_kind(value)}")
        return
    ids = [op.get("id") for op in value if isinstance(op, Mapping)]
    seen: set[str] = set()
    for index, op_id in enumerate(ids):
        if isinstance(op_id, str) and op_id in seen:
            checker.fail(f"ops[{index}].id", f"duplicate op id {op_id!r}; ids must be unique")
        if isinstance(op_id, str):
            seen.add(op_id)
    for index, op in enumerate(value):
        _op(checker, op, f"ops[{index}]", seen)


def _global(checker: _Checker, value: Any, path: str) -> None:
    section = checker.mapping(value, path)
    if section is None:
        return
    checker.keys(section, path, _GLOBAL_KEYS)
    checker.optional(
        section,
        path,
        {
            "image": _string(non_empty=True),
            "gpu": _Checker.boolean,
            "entrypoint": _Checker.str_or_str_list,
            "env": _Checker.str_map,
            "work_dir": _string(),
            "variables": _typed(Mapping, "an object"),
        },
    )


def _logistics(checker: _Checker, value: Any, path: str) -> None:
    section = checker.mapping(value, path)
    if section is None:
        return
    checker.keys(section, path, {"send", "receive"})
    for key in ("send", "receive"):
        if key not in section:
            continue
        where = _join(path, key)
        item = checker.mapping(section[key], where)
        if item is None:
            continue
        checker.keys(item, where, {"type", "args"})
        if item.get("type") not in _LOGISTICS_TYPES:
            checker.fail(_join(where, "type"), f"must be one of {', '.join(_LOGISTICS_TYPES)}")
        if "args" in item:
            args = checker.mapping(item["args"], _join(where, "args"))
            if args is not None:
                checker.keys(args, _join(where, "args"), {"endpoint"})
                if "endpoint" in args:
                    checker.string(args["endpoint"], _join(where, "args.endpoint"))


def validate_job_definition(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Check a job definition and return a deep, plain-dict copy of it.

    Raises ValidationError(argument="job_definition") listing every problem with its path.
    """
    checker = _Checker()
    plain = _plain(obj)
    top = checker.mapping(plain, "job_definition")
    if top is not None:
        checker.keys(top, "", _TOP_KEYS)
        if top.get("version") != JOB_DEFINITION_VERSION:
            checker.fail(
                "version", f"must be {JOB_DEFINITION_VERSION!r}; got {top.get('version')!r}"
            )
        if top.get("type") != "container":
            checker.fail("type", f"must be 'container'; got {top.get('type')!r}")
        _ops(checker, top.get("ops"))
        if "meta" in top:
            checker.mapping(top["meta"], "meta")
        if "global" in top:
            _global(checker, top["global"], "global")
        if "logistics" in top:
            _logistics(checker, top["logistics"], "logistics")
        if "deployment_id" in top:
            checker.string(top["deployment_id"], "deployment_id")
        _check_json(checker, top, "")
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
    required_vram: float | None = None,
    **args: Any,
) -> dict[str, Any]:
    """A validated one-container job definition; extra keyword args go into ``ops[0].args``."""
    op_args: dict[str, Any] = {"image": image, "gpu": gpu}
    if cmd is not None:
        plain_list = isinstance(cmd, Sequence) and not isinstance(cmd, str)
        op_args["cmd"] = list(cmd) if plain_list else cmd
    if expose is not None:
        op_args["expose"] = expose
    if env is not None:
        op_args["env"] = dict(env) if isinstance(env, Mapping) else env
    if required_vram is not None:
        op_args["required_vram"] = required_vram
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
