"""Job-definition templates for the create form: Jupyter, a vLLM server, ComfyUI, any container.

Each template is a few named parameters and a builder that turns them into a job definition
through :func:`nosana_nb.core.jobdef.container_job`, so every template result passes the same
validator as a hand-written definition. Images, ports and commands follow Nosana's published
templates (``nosana-ci/pipeline-templates``); the code is ours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from nosana_nb.core.errors import ValidationError
from nosana_nb.core.jobdef import container_job, validate_job_definition

__all__ = [
    "TEMPLATES",
    "JobTemplate",
    "TemplateParameter",
    "check_parameter",
    "parse_env",
    "required_vram",
    "template_by_key",
]

ParameterKind = Literal["text", "port", "vram", "env", "gpu"]


@dataclass(frozen=True)
class TemplateParameter:
    """One field a template asks for; ``kind`` decides the control and the check."""

    key: str
    label: str
    default: str | int | bool
    kind: ParameterKind = "text"
    help: str = ""


@dataclass(frozen=True)
class JobTemplate:
    key: str
    title: str
    description: str
    parameters: tuple[TemplateParameter, ...]
    _build: Callable[[Mapping[str, Any]], dict[str, Any]]

    def defaults(self) -> dict[str, Any]:
        return {p.key: p.default for p in self.parameters}

    def definition(self, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The validated job definition for ``values`` (missing ones take their default).

        Raises ValidationError whose ``argument`` is the parameter key at fault.
        """
        merged = {**self.defaults(), **(values or {})}
        checked = {p.key: check_parameter(p, merged[p.key]) for p in self.parameters}
        return self._build(checked)


def _port_message(label: str) -> str:
    return f"{label} must be a port number from 1 to 65535 (0 for none)"


def check_parameter(parameter: TemplateParameter, value: Any) -> Any:
    """``value`` checked for ``parameter`` (ValidationError(argument=key) when wrong)."""
    key, label = parameter.key, parameter.label
    if parameter.kind == "port":
        if type(value) is not int or not 0 <= value <= 65535:
            raise ValidationError(_port_message(label), argument=key)
        return value
    if parameter.kind == "vram":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1024:
            raise ValidationError(f"{label} must be whole GB from 0 (any) to 1024", argument=key)
        return value
    if parameter.kind == "gpu":
        if not isinstance(value, bool):
            raise ValidationError(f"{label} must be on or off", argument=key)
        return value
    if parameter.kind == "env":
        return parse_env(value, argument=key)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{label} is required", argument=key)
    return value.strip()


def parse_env(text: Any, *, argument: str = "env") -> dict[str, str]:
    """``KEY=VALUE`` lines (blank lines and ``#`` comments skipped) -> a dict."""
    if not isinstance(text, str):
        raise ValidationError("environment must be KEY=VALUE lines", argument=argument)
    env: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key or not (key[0].isalpha() or key[0] == "_"):
            raise ValidationError(
                f"environment line {number}: expected KEY=VALUE with a name that starts with "
                "a letter or _",
                argument=argument,
            )
        if not all(ch.isalnum() or ch == "_" for ch in key):
            raise ValidationError(
                f"environment line {number}: {key!r} may only hold letters, digits and _",
                argument=argument,
            )
        env[key] = value.strip()
    return env


def _expose(port: int) -> int | None:
    return port or None


def _with_vram(definition: dict[str, Any], gb: int) -> dict[str, Any]:
    """The minimum VRAM as the dashboard states it: ``meta.system_requirements.required_vram``
    (the job-definition type has no such op argument)."""
    if gb:
        meta = definition.setdefault("meta", {})
        meta.setdefault("system_requirements", {})["required_vram"] = gb
    return validate_job_definition(definition)


def _jupyter(values: Mapping[str, Any]) -> dict[str, Any]:
    port = values["port"]
    job = container_job(
        values["image"],
        [
            "jupyter",
            "notebook",
            "--ip=0.0.0.0",
            f"--port={port}",
            "--no-browser",
            "--allow-root",
            "--ServerApp.token=''",
            "--ServerApp.password=''",
        ],
        op_id="jupyter",
        expose=_expose(port),
    )
    return _with_vram(job, values["required_vram"])


def _vllm(values: Mapping[str, Any]) -> dict[str, Any]:
    model = values["model"]
    served = model.rsplit("/", 1)[-1]
    port = values["port"]
    # the vllm-openai image's entrypoint is the OpenAI server: cmd holds only its arguments
    cmd = ["--model", model, "--served-model-name", served, "--host", "0.0.0.0"]
    if port:
        cmd += ["--port", str(port)]
    job = container_job(
        values["image"],
        cmd,
        op_id="vllm",
        expose=_expose(port),
    )
    return _with_vram(job, values["required_vram"])


def _comfyui(values: Mapping[str, Any]) -> dict[str, Any]:
    port = values["port"]
    job = container_job(
        values["image"],
        ["/bin/sh", "-c", f"python -u main.py --listen --port {port} --gpu-only"],
        op_id="comfyui",
        expose=_expose(port),
        resources=[
            {
                "type": "S3",
                "url": "https://models.nosana.io/stable-diffusion/1.5",
                "target": "/comfyui/models/checkpoints",
            }
        ],
    )
    return _with_vram(job, values["required_vram"])


def _container(values: Mapping[str, Any]) -> dict[str, Any]:
    env = values["env"]
    return container_job(
        values["image"],
        values["command"],  # a string: the node runs it with a shell
        op_id="run",
        gpu=values["gpu"],
        expose=_expose(values["port"]),
        env=env or None,
    )


_IMAGE_HELP = "a container image, e.g. docker.io/library/ubuntu:24.04"

TEMPLATES: tuple[JobTemplate, ...] = (
    JobTemplate(
        key="jupyter",
        title="Jupyter Notebook (PyTorch)",
        description=(
            "Jupyter with PyTorch and CUDA on the GPU. It opens without a password: the "
            "service URL is the only protection, so share it with care."
        ),
        parameters=(
            TemplateParameter("image", "Image", "docker.io/nosana/pytorch-jupyter:latest"),
            TemplateParameter("port", "Port", 8888, "port"),
            TemplateParameter("required_vram", "Min VRAM (GB)", 0, "vram", "0 accepts any GPU"),
        ),
        _build=_jupyter,
    ),
    JobTemplate(
        key="vllm",
        title="LLM server (vLLM, OpenAI API)",
        description=(
            "An OpenAI-compatible chat/completions server for a Hugging Face model, "
            "served with vLLM."
        ),
        parameters=(
            TemplateParameter("model", "Model", "Qwen/Qwen2.5-1.5B-Instruct", "text"),
            TemplateParameter("image", "Image", "docker.io/vllm/vllm-openai:v0.8.5"),
            TemplateParameter("port", "Port", 8000, "port"),
            TemplateParameter("required_vram", "Min VRAM (GB)", 12, "vram", "0 accepts any GPU"),
        ),
        _build=_vllm,
    ),
    JobTemplate(
        key="comfyui",
        title="ComfyUI (Stable Diffusion 1.5)",
        description="ComfyUI's node editor for image generation, with Stable Diffusion 1.5.",
        parameters=(
            TemplateParameter("image", "Image", "docker.io/nosana/sd-comfy-manager:0.0.1"),
            TemplateParameter("port", "Port", 7860, "port"),
            TemplateParameter("required_vram", "Min VRAM (GB)", 8, "vram", "0 accepts any GPU"),
        ),
        _build=_comfyui,
    ),
    JobTemplate(
        key="container",
        title="Plain container",
        description=(
            "Any image and command. Environment values are written into the job definition, "
            "which nodes can read: do not put secrets there."
        ),
        parameters=(
            TemplateParameter("image", "Image", "docker.io/library/ubuntu:24.04", help=_IMAGE_HELP),
            TemplateParameter("command", "Command", "nvidia-smi && sleep 3600"),
            TemplateParameter("port", "Port", 0, "port", "0 exposes nothing"),
            TemplateParameter("env", "Environment", "", "env", "KEY=VALUE, one per line"),
            TemplateParameter("gpu", "Use the GPU", True, "gpu"),
        ),
        _build=_container,
    ),
)


def template_by_key(key: str) -> JobTemplate:
    for template in TEMPLATES:
        if template.key == key:
            return template
    known = ", ".join(t.key for t in TEMPLATES)
    raise ValidationError(f"unknown template {key!r}; known: {known}", argument="template")


def required_vram(definition: Mapping[str, Any]) -> float:
    """The largest VRAM (GB) any op of a job definition asks for (0 when none asks).

    Reads ``ops[].args.required_vram`` and the dashboard's
    ``meta.system_requirements.required_vram``.
    """
    wanted: list[float] = [0.0]
    for op in definition.get("ops") or []:
        args = op.get("args") if isinstance(op, Mapping) else None
        value = args.get("required_vram") if isinstance(args, Mapping) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            wanted.append(float(value))
    meta = definition.get("meta")
    requirements = meta.get("system_requirements") if isinstance(meta, Mapping) else None
    value = requirements.get("required_vram") if isinstance(requirements, Mapping) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        wanted.append(float(value))
    return max(wanted)
