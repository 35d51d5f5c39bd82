"""Job definitions as the deployment manager handles them: validation and endpoint URLs.

Validation follows the kit's ``validateJobDefinition`` (typia, strict keys except inside
``meta``/``global``/``logistics``); problems are reported as ``$input.<path>: <expected>`` like
the service's create-revision 400 message. Endpoint URLs are derived as the service derives
them, so they match across the two (see :func:`endpoints_for`).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import re
from typing import Any

import base58

Doc = dict[str, Any]

TOP_LEVEL_KEYS = frozenset(
    {"version", "type", "ops", "meta", "global", "logistics", "deployment_id"}
)
OP_KEYS = frozenset({"id", "type", "args", "results", "execution"})
RUN_ARG_KEYS = frozenset(
    {
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
)
_RANGE = re.compile(r"^(\d+)-(\d+)$")
_LITERAL = re.compile(r"^%%(ops|global)\.[^%]+%%$")
_EXPOSE_TYPES = frozenset({"web", "api", "websocket", "webapi", "none"})


class JobDefinitionError(ValueError):
    """Typia-style problems, joined like the service's message."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(", ".join(problems))
        self.problems = problems


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def _check_port_spec(value: Any, path: str, problems: list[str]) -> None:
    if _is_port(value):
        return
    if isinstance(value, str):
        match = _RANGE.match(value)
        if match and 1 <= int(match[1]) < int(match[2]) <= 65535:
            return
        if _LITERAL.match(value) or (value.isdigit() and _is_port(int(value))):
            return
    problems.append(f'{path}: (number | `${{number}}-${{number}}` | "%%ops.*%%" | "%%global.*%%")')


def _check_expose(expose: Any, path: str, problems: list[str]) -> None:
    if isinstance(expose, dict) and set(expose) == {"__spread__"}:
        if not (isinstance(expose["__spread__"], str) and _LITERAL.match(expose["__spread__"])):
            problems.append(f"{path}.__spread__: string")
        return
    if not isinstance(expose, list):
        _check_port_spec(expose, path, problems)
        return
    seen: set[int] = set()
    ranges: list[tuple[int, int]] = []
    for index, item in enumerate(expose):
        item_path = f"{path}[{index}]"
        port = item.get("port") if isinstance(item, dict) else item
        if isinstance(item, dict):
            unknown = set(item) - {"port", "type", "health_checks"}
            if unknown:
                problems.append(f"{item_path}.{sorted(unknown)[0]}: undefined")
            if "type" in item and item["type"] not in _EXPOSE_TYPES:
                problems.append(
                    f'{item_path}.type: ("web" | "api" | "websocket" | "webapi" | "none")'
                )
            if "health_checks" in item and not isinstance(item["health_checks"], list):
                problems.append(f"{item_path}.health_checks: Array<HealthCheck>")
        _check_port_spec(
            port, f"{item_path}.port" if isinstance(item, dict) else item_path, problems
        )
        if isinstance(port, int) and _is_port(port):
            if port in seen:
                problems.append(f"{item_path}: unique port")
            seen.add(port)
        elif isinstance(port, str) and (match := _RANGE.match(port)):
            ranges.append((int(match[1]), int(match[2])))
    for start, end in ranges:
        if any(start <= p <= end for p in seen):
            problems.append(f"{path}: ports must not fall inside a range")
    ordered = sorted(ranges)
    if any(b[0] <= a[1] for a, b in itertools.pairwise(ordered)):
        problems.append(f"{path}: ranges must not overlap")


def _check_run_args(args: Any, path: str, problems: list[str]) -> None:
    if not isinstance(args, dict):
        problems.append(f"{path}: ContainerRunArgs")
        return
    for key in sorted(set(args) - RUN_ARG_KEYS):
        problems.append(f"{path}.{key}: undefined")
    if not isinstance(args.get("image"), str) or not args.get("image"):
        problems.append(f"{path}.image: string")
    if "cmd" in args and not (isinstance(args["cmd"], str) or _is_str_list(args["cmd"])):
        problems.append(f"{path}.cmd: (Array<string> | string | undefined)")
    if "entrypoint" in args and not (
        isinstance(args["entrypoint"], str) or _is_str_list(args["entrypoint"])
    ):
        problems.append(f"{path}.entrypoint: (Array<string> | string | undefined)")
    env = args.get("env")
    if env is not None and not (
        isinstance(env, dict) and all(isinstance(v, str) for v in env.values())
    ):
        problems.append(f"{path}.env: (Record<string, string> | undefined)")
    for flag in ("gpu", "private"):
        if flag in args and not isinstance(args[flag], bool):
            problems.append(f"{path}.{flag}: (boolean | undefined)")
    if "work_dir" in args and not isinstance(args["work_dir"], str):
        problems.append(f"{path}.work_dir: (string | undefined)")
    vram = args.get("required_vram")
    if vram is not None and (isinstance(vram, bool) or not isinstance(vram, int | float)):
        problems.append(f"{path}.required_vram: (number | undefined)")
    if "expose" in args:
        _check_expose(args["expose"], f"{path}.expose", problems)


def validate_job_definition(definition: Any) -> Doc:
    """Return a deep copy of a valid definition, or raise :class:`JobDefinitionError`."""
    problems: list[str] = []
    if not isinstance(definition, dict):
        raise JobDefinitionError(["$input: JobDefinition"])
    for key in sorted(set(definition) - TOP_LEVEL_KEYS):
        problems.append(f"$input.{key}: undefined")
    if definition.get("version") != "0.1":
        problems.append('$input.version: "0.1"')
    if definition.get("type") != "container":
        problems.append('$input.type: "container"')
    for key in ("meta", "global", "logistics"):
        if key in definition and not isinstance(definition[key], dict):
            problems.append(f"$input.{key}: (object | undefined)")
    if "deployment_id" in definition and not isinstance(definition["deployment_id"], str):
        problems.append("$input.deployment_id: (string | undefined)")
    ops = definition.get("ops")
    if not isinstance(ops, list) or not ops:
        problems.append("$input.ops: Array<Operation> (at least one)")
        ops = []
    ids: set[str] = set()
    for index, op in enumerate(ops):
        path = f"$input.ops[{index}]"
        if not isinstance(op, dict):
            problems.append(f"{path}: Operation")
            continue
        for key in sorted(set(op) - OP_KEYS):
            problems.append(f"{path}.{key}: undefined")
        op_id = op.get("id")
        if not isinstance(op_id, str) or not op_id:
            problems.append(f"{path}.id: string")
        elif op_id in ids:
            problems.append(f"{path}.id: unique op id")
        else:
            ids.add(op_id)
        if op.get("type") == "container/run":
            _check_run_args(op.get("args"), f"{path}.args", problems)
        elif op.get("type") == "container/create-volume":
            args = op.get("args")
            if not (isinstance(args, dict) and isinstance(args.get("name"), str)):
                problems.append(f"{path}.args.name: string")
        else:
            problems.append(f'{path}.type: ("container/run" | "container/create-volume")')
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
