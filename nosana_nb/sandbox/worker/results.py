"""What a simulated node uploads when its job ends: a ``JobResults`` document (the node's flow
state, as ``POST /deployments/jobs/:job/results`` takes it, docs/wire-contract.md §5.25).

The content is synthetic but deterministic: every draw is a hash of (seed, job, purpose), so the
same seed gives the same lines, exit codes and failures after a restart or in another sandbox.
Per op of the job definition: image pull progress, start-up lines, the command's output; a
seeded share of jobs (``WorkerConfig.failure_probability``) fail: their last op exits non-zero
with error lines on stderr and a ``nodeerr`` line. Times: ``startTime``/``endTime`` in unix ms
(as the node's ``Date.now()``), log ``timestamp`` ISO 8601 UTC with milliseconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nosana_nb.sandbox.store import Store

Doc = dict[str, Any]
Draw = Callable[[str], float]
"""A number in [0, 1) fixed by its purpose (and the job and seed the caller bound)."""

FAILURE_EXIT_CODES = (1, 2, 137, 139)
_ERROR_LINES = (
    "Traceback (most recent call last):",
    '  File "/app/main.py", line 42, in <module>',
    "RuntimeError: CUDA error: out of memory",
    "Error: model weights checksum mismatch",
    "Killed: container exceeded its memory limit",
)
_OUTPUT_LINES = (
    "loading model weights",
    "model ready on cuda:0",
    "processing batch {n}",
    "throughput {n} tokens/s",
    "checkpoint {n} written",
)


def _iso_ms(ms: int) -> str:
    stamp = datetime.fromtimestamp(ms / 1000, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _ops_of(job_definition: Doc) -> list[Doc]:
    ops = job_definition.get("ops") if isinstance(job_definition, dict) else None
    found = [op for op in ops if isinstance(op, dict)] if isinstance(ops, list) else []
    return found or [{"id": "run", "type": "container/run", "args": {}}]


def _command_text(op: Doc) -> str:
    args = op.get("args") if isinstance(op.get("args"), dict) else {}
    cmd = args.get("cmd") if isinstance(args, dict) else None
    if isinstance(cmd, list):
        return " ".join(str(part) for part in cmd)
    return str(cmd) if cmd else ""


def build_job_results(
    job_definition: Doc,
    *,
    start_s: float,
    end_s: float,
    draw: Draw,
    failure_probability: float,
    stopped: bool,
) -> Doc:
    """The ``JobResults`` body of a job that ran from ``start_s`` to ``end_s`` (unix s)."""
    ops = _ops_of(job_definition)
    failed = not stopped and draw("fails") < failure_probability
    start_ms = int(start_s * 1000)
    end_ms = max(start_ms, int(end_s * 1000))
    # The ops share the run in equal slices, one after another (ops of a flow run in order).
    slice_ms = (end_ms - start_ms) // len(ops)
    op_states: list[Doc] = []
    for index, op in enumerate(ops):
        op_id = str(op.get("id") or f"op-{index}")
        op_start = start_ms + index * slice_ms
        op_end = end_ms if index == len(ops) - 1 else op_start + slice_ms
        last = index == len(ops) - 1
        op_failed = failed and last
        exit_code = (
            FAILURE_EXIT_CODES[int(draw(f"exit:{op_id}") * len(FAILURE_EXIT_CODES))]
            if op_failed
            else 0
        )
        logs = _op_logs(op, op_id, op_start, op_end, draw, failed=op_failed, exit_code=exit_code)
        status = "failed" if op_failed else ("stopped" if stopped and last else "success")
        op_states.append(
            {
                "providerId": None,
                "operationId": op_id,
                "group": str(op.get("execution", {}).get("group") or op_id)
                if isinstance(op.get("execution"), dict)
                else op_id,
                "status": status,
                "startTime": op_start,
                "endTime": op_end,
                "exitCode": exit_code,
                "logs": logs,
                "diagnostics": {
                    "reason": {
                        "hostShutDown": False,
                        "jobStopped": stopped and last,
                        "jobExpired": False,
                    }
                },
            }
        )
    status = "failed" if failed else ("stopped" if stopped else "success")
    results: Doc = {
        "status": status,
        "startTime": start_ms,
        "endTime": end_ms,
        "opStates": op_states,
    }
    if failed:
        results["errors"] = [
            f"operation {op_states[-1]['operationId']} exited with code {op_states[-1]['exitCode']}"
        ]
    return results


def _op_logs(
    op: Doc, op_id: str, start_ms: int, end_ms: int, draw: Draw, *, failed: bool, exit_code: int
) -> list[Doc]:
    args = op.get("args") if isinstance(op.get("args"), dict) else {}
    image = str(args.get("image") or "ubuntu") if isinstance(args, dict) else "ubuntu"
    texts: list[tuple[str, str]] = []
    layers = 2 + int(draw(f"layers:{op_id}") * 3)
    for layer in range(layers):
        layer_id = hashlib.sha256(f"{image}:{layer}".encode()).hexdigest()[:12]
        texts.append(("stdout", f"{layer_id}: Pulling fs layer"))
        texts.append(("stdout", f"{layer_id}: Pull complete"))
    texts.append(("stdout", f"Status: Downloaded newer image for {image}"))
    texts.append(("stdout", f"Starting container {op_id}"))
    command = _command_text(op)
    if command:
        texts.append(("stdout", f"$ {command}"))
    outputs = 3 + int(draw(f"outputs:{op_id}") * 6)
    for n in range(outputs):
        template = _OUTPUT_LINES[n % len(_OUTPUT_LINES)]
        texts.append(("stdout", template.format(n=n + 1 + int(draw(f"n:{op_id}:{n}") * 100))))
    if failed:
        first = int(draw(f"error:{op_id}") * len(_ERROR_LINES))
        for k in range(3):
            texts.append(("stderr", _ERROR_LINES[(first + k) % len(_ERROR_LINES)]))
        texts.append(("nodeerr", f"container {op_id} exited with code {exit_code}"))
    # Spread the lines over the op's run; the stamps never decrease.
    step = (end_ms - start_ms) / max(1, len(texts))
    return [
        {"type": stream, "log": text, "timestamp": _iso_ms(start_ms + int(i * step))}
        for i, (stream, text) in enumerate(texts)
    ]


def find_job_results(store: Store, job: str) -> Doc | None:
    """The stored upload of ``job``: keyed by the job address (one lookup per job detail, not
    a scan); a scan only for rows an older sandbox stored under a generated id."""
    return store.get("results", job) or store.find_one("results", job=job)


def save_job_results(store: Store, job: Doc, body: Doc, *, created_at: str) -> bool:
    """Store a node's upload once; False when the job already has one (§5.25's 400)."""
    with store.transaction():
        if find_job_results(store, job["job"]) is not None:
            return False
        store.insert(
            "results",
            {
                "_id": job["job"],
                "job": job["job"],
                "deployment": job.get("deployment"),
                "body": body,
                "created_at": created_at,
            },
        )
    return True
