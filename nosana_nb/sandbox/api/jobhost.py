"""The job-host routes (job definition, results): what a node running a job calls.

Authentication is the node's: ``authorization: <job address>:<b58 sig>[:<ms>]`` signed by the
job's node (the sandbox's simulated nodes have stable keys, see ``network.node_keypair``).
The sandbox reads the job from its store where the service reads the chain.
"""

from __future__ import annotations

from solders.pubkey import Pubkey
from solders.signature import Signature

from nosana_nb.sandbox.context import SandboxContext
from nosana_nb.sandbox.http.auth import EXPIRY_SECONDS, timestamp_ms
from nosana_nb.sandbox.http.routing import ApiError, Call, Reply
from nosana_nb.sandbox.http.serialize import SYSTEM_PROGRAM
from nosana_nb.sandbox.worker.results import save_job_results

Doc = dict[str, object]
OOPS = "Ops something went wrong, please again."


class _HostRefusal(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.reply = Reply(text, status, text=True)


def _authenticate_host(ctx: SandboxContext, call: Call) -> dict[str, object]:
    """The job, once its node has proved itself; refusals are the service's text bodies."""
    authorization = call.headers.get("authorization")
    if not authorization:
        raise _HostRefusal(401, "Unauthorized")
    job = ctx.store.find_one("jobs", job=call.params["job"])
    if job is None:
        raise _HostRefusal(404, "Job Not Found")
    node = str(job.get("node") or SYSTEM_PROGRAM)
    if job.get("state") == "QUEUED" and node != SYSTEM_PROGRAM:
        raise _HostRefusal(403, "Job must be running")
    parts = authorization.split(":")
    message, signature_text = parts[0], (parts[1] if len(parts) > 1 else "")
    date = parts[2] if len(parts) > 2 else ""
    if message != call.params["job"] or not signature_text:
        raise _HostRefusal(500, OOPS)
    if date and (ctx.wall_time() * 1000 - timestamp_ms(date)) / 1000 >= EXPIRY_SECONDS:
        raise _HostRefusal(500, OOPS)
    try:
        signature = Signature.from_string(signature_text)
        node_key = Pubkey.from_string(node)
    except ValueError:
        raise _HostRefusal(500, OOPS) from None
    if not signature.verify(node_key, message.encode()):
        raise _HostRefusal(401, "Unauthorized")
    return job


def job_definition(ctx: SandboxContext, call: Call) -> Reply:
    try:
        job = _authenticate_host(ctx, call)
    except _HostRefusal as refusal:
        return refusal.reply
    revision = ctx.store.find_one(
        "revisions", deployment=job.get("deployment"), revision=job.get("revision")
    )
    if revision is None:
        raise ApiError(404, "Failed to find the jobs definition.")
    return Reply(revision.get("job_definition") or {})


def post_results(ctx: SandboxContext, call: Call) -> Reply:
    try:
        job = _authenticate_host(ctx, call)
    except _HostRefusal as refusal:
        return refusal.reply
    if not isinstance(call.body, dict):
        raise ApiError(400, "Failed to save the jobs results.")
    refused = not save_job_results(ctx.store, job, call.body, created_at=ctx.clock.now_iso())
    if refused:
        raise ApiError(400, "Job has already been completed.")
    return Reply({"message": "Success"})
