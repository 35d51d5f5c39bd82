"""Job definition validation, the container_job builder and cid_v0."""

from __future__ import annotations

import copy
import hashlib
import json
from types import MappingProxyType
from typing import Any

import base58
import pytest

from nosana_nb.core.errors import ValidationError
from nosana_nb.core.jobdef import cid_v0, container_job, validate_job_definition


def job(**args: Any) -> dict[str, Any]:
    base_args: dict[str, Any] = {"image": "ubuntu:22.04"}
    base_args.update(args)
    return {
        "version": "0.1",
        "type": "container",
        "ops": [{"type": "container/run", "id": "run", "args": base_args}],
    }


def problems(definition: Any) -> str:
    with pytest.raises(ValidationError) as info:
        validate_job_definition(definition)
    assert info.value.argument == "job_definition"
    return str(info.value)


FULL = {
    "version": "0.1",
    "type": "container",
    "meta": {"trigger": "dashboard", "system_requirements": {"required_vram": 8}, "x": [1, "a"]},
    "global": {"image": "python:3.11", "gpu": True, "env": {"A": "1"}, "variables": {"v": "1"}},
    "logistics": {
        "send": {"type": "api", "args": {"endpoint": "https://x"}},
        "receive": {"type": "api-listen", "args": {}},
    },
    "ops": [
        {"type": "container/create-volume", "id": "vol", "args": {"name": "models"}},
        {
            "type": "container/run",
            "id": "serve",
            "args": {
                "image": "vllm/vllm-openai:latest",
                "cmd": ["--model", "x"],
                "entrypoint": "/bin/sh",
                "env": {"HF_TOKEN": "t"},
                "work_dir": "/app",
                "gpu": True,
                "restart_policy": {"policy": "on-failure", "restart_tries": 3},
                "private": False,
                "volumes": [{"name": "models", "dest": "/models"}],
                "expose": [
                    {
                        "port": 8000,
                        "type": "api",
                        "health_checks": [
                            {
                                "type": "http",
                                "path": "/health",
                                "method": "GET",
                                "expected_status": 200,
                                "continuous": True,
                            },
                            {"type": "websocket", "expected_response": "pong", "continuous": False},
                        ],
                    },
                    "9000-9010",
                    9100,
                    "%%ops.vol.port%%",
                ],
            },
            "results": {"url": "https?://\\S+", "done": {"regex": "DONE", "logType": ["stdout"]}},
            "execution": {"group": "g", "depends_on": ["vol"], "stop_if_dependent_stops": True},
        },
    ],
}


def test_full_definition_is_accepted_and_copied() -> None:
    checked = validate_job_definition(FULL)
    assert checked == FULL
    assert checked is not FULL
    checked["ops"][1]["args"]["env"]["HF_TOKEN"] = "changed"
    assert FULL["ops"][1]["args"]["env"]["HF_TOKEN"] == "t"  # type: ignore[index]


def test_mapping_proxies_and_tuples_become_plain_json() -> None:
    frozen = MappingProxyType({**job(cmd=("echo", "hi")), "meta": MappingProxyType({"a": (1, 2)})})
    checked = validate_job_definition(frozen)
    assert checked["ops"][0]["args"]["cmd"] == ["echo", "hi"]
    assert checked["meta"] == {"a": [1, 2]}
    json.dumps(checked)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d.pop("version"), "version: is required"),
        (lambda d: d.update(version="0.2"), "version: must be '0.1'"),
        (lambda d: d.update(type="vm"), "type: must be 'container'"),
        (lambda d: d.update(ops=[]), "ops: must be a non-empty list"),
        (lambda d: d.update(ops={}), "ops: must be a non-empty list"),
        (lambda d: d.update(extra=1), "extra: unknown key"),
        (lambda d: d.update(meta="x"), "meta: must be an object"),
        (lambda d: d.update(deployment_id=5), "deployment_id: must be a string"),
        (lambda d: d["ops"][0].pop("id"), "ops[0].id: is required"),
        (lambda d: d["ops"][0].update(id=""), "ops[0].id: must not be empty"),
        (lambda d: d["ops"][0].update(type="container/exec"), "ops[0].type: must be one of"),
        (lambda d: d["ops"][0].update(foo=1), "ops[0].foo: unknown key"),
        (lambda d: d["ops"][0].pop("args"), "ops[0].args: is required"),
        (lambda d: d["ops"][0]["args"].pop("image"), "ops[0].args.image: is required"),
        (lambda d: d["ops"][0]["args"].update(image=""), "ops[0].args.image: must not be empty"),
        (lambda d: d["ops"][0]["args"].update(image=3), "ops[0].args.image: must be a string"),
        (
            lambda d: d["ops"][0]["args"].update(cmd=["a", 1]),
            "ops[0].args.cmd[1]: must be a string; got int",
        ),
        (lambda d: d["ops"][0]["args"].update(env={"A": 1}), "ops[0].args.env.A: must be a string"),
        (lambda d: d["ops"][0]["args"].update(env=["A=1"]), "ops[0].args.env: must be an object"),
        (lambda d: d["ops"][0]["args"].update(gpu="yes"), "ops[0].args.gpu: must be true or false"),
        (
            lambda d: d["ops"][0]["args"].update(required_vram=24),
            "ops[0].args.required_vram: unknown key",
        ),
        (
            lambda d: d["ops"][0]["args"].update(restart_policy="sometimes"),
            "ops[0].args.restart_policy: must be 'on-failure', 'no'",
        ),
        (
            lambda d: d["ops"][0]["args"].update(restart_policy={"restart_tries": 2}),
            "ops[0].args.restart_policy.policy: is required",
        ),
        (
            lambda d: d["ops"][0]["args"].update(volumes=[{"name": "v"}]),
            "volumes[0].dest: is required",
        ),
        (lambda d: d["ops"][0]["args"].update(unknown=1), "ops[0].args.unknown: unknown key"),
        (
            lambda d: (
                d["meta"].update(bad=float("inf"))
                if "meta" in d
                else d.update(meta={"bad": float("inf")})
            ),
            "meta.bad: must be a finite number",
        ),
        (lambda d: d.update(meta={"s": {1, 2}}), "meta.s: must be JSON data"),
        (lambda d: d.update(meta={1: "x"}), "keys must be strings"),
        (
            lambda d: d.update(logistics={"send": {"type": "ftp"}}),
            "logistics.send.type: must be one of",
        ),
        (lambda d: d.update({"global": {"image": 1}}), "global.image: must be a string"),
    ],
)
def test_invalid_definitions_name_the_path(mutate: Any, needle: str) -> None:
    definition = job()
    mutate(definition)
    assert needle in problems(definition)


def test_second_op_path_and_duplicate_ids() -> None:
    definition = job()
    definition["ops"].append({"type": "container/run", "id": "run", "args": {"cmd": "x"}})
    text = problems(definition)
    assert "ops[1].args.image: is required" in text
    assert "ops[1].id: duplicate op id 'run'" in text


def test_depends_on_must_reference_known_ops() -> None:
    definition = job()
    definition["ops"][0]["execution"] = {"depends_on": ["ghost", "run"]}
    text = problems(definition)
    assert "execution.depends_on[0]: unknown op id 'ghost'" in text
    assert "execution.depends_on[1]: an op cannot depend on itself" in text


def test_not_a_mapping() -> None:
    assert "job_definition: must be an object; got list" in problems([1, 2])
    assert "got null" in problems(None)


def test_many_problems_are_summarized() -> None:
    definition = job()
    definition["ops"] = [{"type": "container/run", "id": f"op{i}", "args": {}} for i in range(15)]
    assert "(and 5 more)" in problems(definition)


@pytest.mark.parametrize(
    "expose",
    [
        8080,
        "8000-8010",
        "%%global.port%%",
        {"__spread__": "%%ops.x.ports%%"},
        [80, 443, "1000-2000", {"port": 3000, "type": "webapi"}],
        [{"port": 8000, "type": "none", "health_checks": []}],
        80.0,
        80.5,
        [{"__spread__": "%%ops.x.ports%%"}, 8080],
        {"__spread__": "%%global.ports%%", "chunked": True},
    ],
)
def test_valid_expose(expose: Any) -> None:
    validate_job_definition(job(expose=expose))


@pytest.mark.parametrize(
    ("expose", "needle"),
    [
        (0, "expose: must be between 1 and 65535; got 0"),
        (70000, "expose: must be between 1 and 65535"),
        (True, "expose: must be a port"),
        ([{"port": "3000-3005"}], "expose[0].port: must be a number; got str"),
        ("8010-8000", "start < end"),
        ("8000-8000", "start < end"),
        ("http", "'start-end' range"),
        ([80, 80], "expose[1]: overlaps"),
        ([85, "80-90"], "expose[1]: overlaps"),
        (["80-90", "85-95"], "overlaps"),
        ([{"port": 80, "type": "grpc"}], "expose[0].type: must be one of"),
        ([{"type": "web"}], "expose[0].port: is required"),
        ([{"port": 80, "health_checks": [{"type": "tcp"}]}], "health_checks[0].type"),
        (
            [
                {
                    "port": 80,
                    "health_checks": [
                        {
                            "type": "http",
                            "path": "/",
                            "method": "PATCH",
                            "expected_status": 200,
                            "continuous": True,
                        }
                    ],
                }
            ],
            "health_checks[0].method: must be one of 'GET', 'POST'",
        ),
        (
            [
                {
                    "port": 80,
                    "health_checks": [
                        {
                            "type": "http",
                            "path": "/",
                            "method": "GET",
                            "expected_status": 99,
                            "continuous": True,
                        }
                    ],
                }
            ],
            "expected_status: must be between 100 and 599",
        ),
        (
            [{"port": 80, "health_checks": [{"type": "websocket", "expected_response": "x"}]}],
            "continuous: is required",
        ),
        ({"__spread__": "ports"}, "__spread__: must be a %%ops.x%%"),
    ],
)
def test_invalid_expose(expose: Any, needle: str) -> None:
    assert needle in problems(job(expose=expose))


def test_container_job_builder() -> None:
    built = container_job(
        "ollama/ollama:0.5",
        "ollama serve",
        expose=11434,
        env={"OLLAMA_HOST": "0.0.0.0"},
        restart_policy="unless-stopped",
        work_dir="/root",
    )
    assert built == {
        "version": "0.1",
        "type": "container",
        "ops": [
            {
                "type": "container/run",
                "id": "run",
                "args": {
                    "image": "ollama/ollama:0.5",
                    "gpu": True,
                    "cmd": "ollama serve",
                    "expose": 11434,
                    "env": {"OLLAMA_HOST": "0.0.0.0"},
                    "restart_policy": "unless-stopped",
                    "work_dir": "/root",
                },
            }
        ],
    }
    minimal = container_job("ubuntu", ("echo", "hi"), op_id="hello", gpu=False)
    assert minimal["ops"][0]["id"] == "hello"
    assert minimal["ops"][0]["args"] == {"image": "ubuntu", "gpu": False, "cmd": ["echo", "hi"]}


def test_container_job_validates() -> None:
    with pytest.raises(ValidationError, match=r"ops\[0\]\.args\.image: must not be empty"):
        container_job("")
    with pytest.raises(ValidationError, match=r"args\.bogus: unknown key"):
        container_job("ubuntu", bogus=1)
    with pytest.raises(ValidationError, match="expose"):
        container_job("ubuntu", expose=[80, 80])


def test_cid_v0_is_multihash_of_canonical_json() -> None:
    obj = {"b": [1, 2], "a": "é"}
    cid = cid_v0(obj)
    raw = base58.b58decode(cid)
    assert cid.startswith("Qm")
    assert len(cid) == 46
    assert raw[:2] == b"\x12\x20"
    assert raw[2:] == hashlib.sha256('{"a":"é","b":[1,2]}'.encode()).digest()


def test_cid_v0_ignores_key_order_and_input_types() -> None:
    one = {"version": "0.1", "ops": [{"id": "x"}], "type": "container"}
    two = dict(reversed(list(copy.deepcopy(one).items())))
    assert cid_v0(one) == cid_v0(two) == cid_v0(MappingProxyType(one))
    assert cid_v0(one) != cid_v0({**one, "version": "0.2"})
    assert cid_v0({"t": (1, 2)}) == cid_v0({"t": [1, 2]})


@pytest.mark.parametrize("bad", [{"x": float("nan")}, {"x": {1, 2}}, {1: "a"}, object()])
def test_cid_v0_rejects_non_json(bad: Any) -> None:
    with pytest.raises(ValidationError, match="cannot hash"):
        cid_v0(bad)


def test_cycles_and_deep_nesting_are_refused() -> None:
    cyclic: dict[str, Any] = job()
    cyclic["meta"] = {}
    cyclic["meta"]["self"] = cyclic["meta"]
    assert "nested more than 64 levels" in problems(cyclic)
    with pytest.raises(ValidationError, match="nested"):
        cid_v0(cyclic)
