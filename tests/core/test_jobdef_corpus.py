"""One corpus, two validators: for every field of the API types' JobDefinition, a valid value
both the client (``core.jobdef``) and the sandbox (``sandbox.api.jobdef``) accept, and an
invalid one both refuse with a message naming the field's path.

Each case sets one path of a complete, valid definition; the two validators are written apart
(each side's own description of the type), so agreement here is evidence, not a tautology.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from nosana_nb.core.errors import ValidationError
from nosana_nb.core.jobdef import validate_job_definition as client_validate
from nosana_nb.sandbox.api.jobdef import JobDefinitionError
from nosana_nb.sandbox.api.jobdef import validate_job_definition as sandbox_validate

HTTP_CHECK = {
    "type": "http",
    "path": "/health",
    "method": "GET",
    "expected_status": 200,
    "headers": {"accept": "application/json"},
    "body": {"ping": True},
    "continuous": True,
}
WEBSOCKET_CHECK = {"type": "websocket", "expected_response": "pong", "continuous": False}
BASE: dict[str, Any] = {
    "version": "0.1",
    "type": "container",
    "deployment_id": "dep",
    "logistics": {
        "send": {"type": "api", "args": {"endpoint": "https://example.org/in"}},
        "receive": {"type": "api-listen", "args": {}},
    },
    "meta": {"trigger": "cli", "system_resources": {"vram": 8, "gpu": "rtx"}, "tags": ["a", 1]},
    "global": {
        "image": "python:3.12",
        "gpu": True,
        "entrypoint": ["sh"],
        "env": {"A": "1"},
        "work_dir": "/w",
        "variables": {"v": "x"},
    },
    "ops": [
        {"type": "container/create-volume", "id": "vol", "args": {"name": "models"}},
        {
            "type": "container/run",
            "id": "run",
            "args": {
                "image": "nginx:1",
                "aliases": ["web"],
                "cmd": ["nginx", "-g", "daemon off;"],
                "volumes": [{"name": "models", "dest": "/models"}],
                "expose": [
                    {"port": 80, "type": "web", "health_checks": [HTTP_CHECK, WEBSOCKET_CHECK]},
                    "9000-9010",
                    {"__spread__": "%%ops.vol.ports%%", "chunked": True},
                ],
                "gpu": False,
                "work_dir": "/srv",
                "entrypoint": "/docker-entrypoint.sh",
                "env": {"MODE": "prod"},
                "restart_policy": {"policy": "on-failure", "restart_tries": 3},
                "private": False,
                "resources": [
                    {"type": "S3", "target": "/data", "url": "s3://b", "files": ["a"]},
                    {"type": "HF", "target": "/hf", "repo": "org/model", "revision": "main"},
                    {"type": "Ollama", "model": "llama3"},
                    "__remove-if-empty__",
                ],
                "authentication": {"docker": {"username": "u", "password": "p"}},
            },
            "results": {"url": "https?://\\\\S+", "done": {"regex": "DONE", "logType": ["stdout"]}},
            "execution": {"group": "g", "depends_on": ["vol"], "stop_if_dependent_stops": True},
        },
    ],
}
RUN = "ops[1]"
ARGS = f"{RUN}.args"
EXPOSED = f"{ARGS}.expose[0]"

# (path, a valid value, an invalid value); None as the invalid value: the type takes anything
CASES: list[tuple[str, Any, Any]] = [
    ("version", "0.1", "0.2"),
    ("type", "container", "vm"),
    ("deployment_id", "another", 7),
    ("logistics", {"send": BASE["logistics"]["send"], "receive": BASE["logistics"]["send"]}, []),
    ("logistics.send", {"type": "api-listen", "args": {}}, {"type": "api"}),
    ("logistics.send.type", "api-listen", "ftp"),
    ("logistics.send.args", {"endpoint": "https://x"}, "https://x"),
    ("logistics.send.args.endpoint", "https://y", 1),
    ("logistics.receive", {"type": "api", "args": {}}, {"args": {}}),
    ("meta", {"anything": "goes", "n": 1}, "meta"),
    ("meta.trigger", "dashboard", 5),
    ("meta.system_resources", {"cpu": 2}, {"cpu": [2]}),
    ("meta.tags", {"nested": ["a", 2]}, True),
    ("global", {}, ["x"]),
    ("global.image", "ubuntu", 3),
    ("global.gpu", False, "yes"),
    ("global.entrypoint", "sh", [1]),
    ("global.env", {"B": "2"}, {"B": 2}),
    ("global.work_dir", "/", False),
    ("global.variables", {"x": "y"}, {"x": 1}),
    ("ops", [BASE["ops"][0]], []),
    (f"{RUN}.type", "container/run", "container/exec"),
    (f"{RUN}.id", "serve", 3),
    (f"{RUN}.args", {"image": "alpine"}, {"cmd": "x"}),
    (f"{ARGS}.image", "alpine:3", 3),
    (f"{ARGS}.aliases", "web", [1]),
    (f"{ARGS}.cmd", "echo hi", ["a", 1]),
    (f"{ARGS}.volumes", [], [{"name": "v"}]),
    (f"{ARGS}.volumes[0].name", "other", 1),
    (f"{ARGS}.volumes[0].dest", "/mnt", 2),
    (f"{ARGS}.expose", 8080, True),
    (f"{ARGS}.expose", {"__spread__": "%%global.ports%%"}, {"__spread__": "ports"}),
    (f"{ARGS}.expose", 80.5, "http"),
    (f"{EXPOSED}.port", 8080, "80"),
    (f"{EXPOSED}.type", "webapi", "grpc"),
    (f"{EXPOSED}.health_checks", [], {"type": "http"}),
    (f"{EXPOSED}.health_checks[0].path", "/ready", 1),
    (f"{EXPOSED}.health_checks[0].method", "POST", "PATCH"),
    (f"{EXPOSED}.health_checks[0].expected_status", 204, "200"),
    (f"{EXPOSED}.health_checks[0].headers", {}, {"x": 1}),
    (f"{EXPOSED}.health_checks[0].body", ["any", {"json": None}], None),
    (f"{EXPOSED}.health_checks[0].continuous", False, "no"),
    (f"{EXPOSED}.health_checks[1].expected_response", "ok", 1),
    (f"{EXPOSED}.health_checks[1].continuous", True, 0),
    (f"{ARGS}.expose[2].__spread__", "%%ops.vol.other%%", 5),
    (f"{ARGS}.expose[2].chunked", False, "yes"),
    (f"{ARGS}.gpu", True, 1),
    (f"{ARGS}.work_dir", "/", ["x"]),
    (f"{ARGS}.entrypoint", ["a", "b"], {"a": 1}),
    (f"{ARGS}.env", {}, ["A=1"]),
    (f"{ARGS}.restart_policy", "unless-stopped", "sometimes"),
    (f"{ARGS}.restart_policy.policy", "on-failure", "always"),
    (f"{ARGS}.restart_policy.restart_tries", 0.5, "3"),
    (f"{ARGS}.private", True, "no"),
    (f"{ARGS}.resources", [], "all"),
    (f"{ARGS}.resources[0]", {"type": "S3", "target": "/b", "bucket": "name"}, {"type": "FTP"}),
    (f"{ARGS}.resources[0].target", "/other", 1),
    (f"{ARGS}.resources[0].files", [], [1]),
    (f"{ARGS}.resources[1].repo", "org/other", 1),
    (f"{ARGS}.resources[2].model", "mistral", 1),
    (f"{ARGS}.resources[3]", {"__spread__": "%%global.res%%"}, "__keep__"),
    (f"{ARGS}.authentication", {}, "token"),
    (f"{ARGS}.authentication.docker", {"server": "ghcr.io"}, {"token": "x"}),
    (f"{ARGS}.authentication.docker.username", "other", 1),
    (f"{RUN}.results", {}, ["DONE"]),
    (f"{RUN}.results.done", "regex", 1),
    (f"{RUN}.results.done.regex", "OK", 1),
    (f"{RUN}.results.done.logType", ["stderr", "nodeerr"], ["stdlog"]),
    (f"{RUN}.execution", {"group": "h"}, "g"),
    (f"{RUN}.execution.group", "other", 1),
    (f"{RUN}.execution.depends_on", [], "vol"),
    (f"{RUN}.execution.stop_if_dependent_stops", False, "yes"),
    ("ops[0].args.name", "other", 1),
]
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def with_value(path: str, value: Any) -> dict[str, Any]:
    """A deep copy of BASE with ``value`` at ``path`` (dotted keys and [index] steps)."""
    definition = copy.deepcopy(BASE)
    steps = [int(i) if i else key for key, i in _STEP.findall(path)]
    target: Any = definition
    for step in steps[:-1]:
        target = target[step]
    target[steps[-1]] = copy.deepcopy(value)
    return definition


def test_the_base_definition_is_valid_on_both_sides() -> None:
    assert client_validate(BASE) == BASE
    assert sandbox_validate(BASE) == BASE


@pytest.mark.parametrize(("path", "valid", "invalid"), CASES, ids=[c[0] for c in CASES])
def test_both_validators_agree_on_the_field(path: str, valid: Any, invalid: Any) -> None:
    accepted = with_value(path, valid)
    client_validate(accepted)
    sandbox_validate(accepted)
    if invalid is None:
        return  # typed `unknown`: no value is invalid
    refused = with_value(path, invalid)
    with pytest.raises(ValidationError) as client_error:
        client_validate(refused)
    with pytest.raises(JobDefinitionError) as sandbox_error:
        sandbox_validate(refused)
    assert path in str(client_error.value), str(client_error.value)
    assert any(p.startswith(f"$input.{path}") for p in sandbox_error.value.problems), (
        sandbox_error.value.problems
    )
