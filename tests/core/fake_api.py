"""An in-memory deployment manager (+ markets, IPFS, stats) for httpx.MockTransport.

It speaks the wire contract of docs/wire-contract.md closely enough for client tests:
exact paths, JSON field names, the auth check (signature verified with solders), keyset-like
pagination with opaque cursors, the status machine with its HTTP 500 refusals, and the SSE
stream as a finished text/event-stream body. Every request is recorded for assertions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import httpx
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.token.state import TokenAccount, TokenAccountState
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import get_associated_token_address

API = "http://127.0.0.1:3001"
MARKET_3060 = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"
MARKET_4090 = "97G9NnvBDQ2WpKu6fasoMsAKmfj63C9rhysJnkeWodAf"
DEVNET_NOS_MINT = "devr1BGQndEW5k5zfvG5FsLyZv1Ap73vNgAHcQ9sUVP"
MARKET_UNPRICED = "EzuHhkrhmV98HWzREsgLenKj2iHdJgrKmzfL8psP8Aso"
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

START_FROM = ("DRAFT", "STOPPED", "ERROR", "INSUFFICIENT_FUNDS")
STOP_FROM = ("RUNNING", "ERROR", "INSUFFICIENT_FUNDS")
JOB_STATE_NUMBER = {"QUEUED": 0, "RUNNING": 1, "COMPLETED": 2, "STOPPED": 3}


def new_address() -> str:
    return str(Keypair().pubkey())


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fake_cid(obj: Any) -> str:
    digest = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(44):
        number, rest = divmod(number, 58)
        chars.append(BASE58[rest])
    return "Qm" + "".join(chars)


def default_markets() -> list[dict[str, Any]]:
    """Markets in the service's shape: ``nodes`` a list, ``client`` a flag, every field set."""
    common: dict[str, Any] = {
        "premium_community_relation": None,
        "required_images": [],
        "required_remote_resources": [],
        "client": False,
    }
    return [
        {
            **common,
            "address": MARKET_3060,
            "slug": "nvidia-3060",
            "name": "NVIDIA 3060",
            "sft": "SFT3060aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "type": "PREMIUM",
            "usd_reward_per_hour": 0.0436,
            "nos_reward_per_second": 0.000043,
            "nos_job_price_per_second": 0.000043,
            "network_fee_percentage": 10,
            "gpu_types": ["RTX 3060"],
            "nodes": ["Node1111111111111111111111111111111111111111", "Node2222222222222222"],
            "lowest_vram": 12,
            "max_usd_uptime_reward_per_day": 1.0464,
        },
        {
            **common,
            "address": MARKET_4090,
            "slug": "nvidia-4090",
            "name": "NVIDIA 4090",
            "sft": "SFT4090aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "type": "PREMIUM",
            "usd_reward_per_hour": "0.2909",
            "nos_reward_per_second": 0.000115,
            "nos_job_price_per_second": 0.000115,
            "network_fee_percentage": 0,
            "gpu_types": ["RTX 4090"],
            "required_images": ["docker.io/ollama/ollama"],
            "required_remote_resources": [{"type": "Ollama", "model": "llama3"}],
            "nodes": [],
            "client": True,
            "lowest_vram": 24,
            "brand_new_field": {"kept": True},
        },
        {
            **common,
            "address": MARKET_UNPRICED,
            "slug": "nvidia-4070",
            "name": "NVIDIA 4070",
            "sft": "SFT4070aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "type": "COMMUNITY",
            "usd_reward_per_hour": None,
            "gpu_types": [],
        },
    ]


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    headers: httpx.Headers
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class FakeNosana:
    """Callable MockTransport handler holding deployments, jobs, events, tasks, vaults."""

    owner: str | None = None
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tasks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    revisions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    vaults: list[dict[str, Any]] = field(default_factory=list)
    markets: list[dict[str, Any]] = field(default_factory=default_markets)
    ipfs: dict[str, Any] = field(default_factory=dict)
    stream_frames: dict[str, list[str]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    # statuses returned by successive GET /deployments/:id (for wait_until tests)
    status_script: dict[str, list[str]] = field(default_factory=dict)
    clock: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    # a Solana JSON-RPC subset at /rpc: balances by address, NOS by owner, sent transactions
    lamports: dict[str, int] = field(default_factory=dict)
    nos_units: dict[str, int] = field(default_factory=dict)
    nos_mint: str = DEVNET_NOS_MINT
    sent_transactions: list[VersionedTransaction] = field(default_factory=list)

    # --- helpers for tests ------------------------------------------------------------------

    def calls(self, method: str, path: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if r.method == method and (path is None or r.path == path or re.fullmatch(path, r.path))
        ]

    def tick(self, seconds: int = 1) -> str:
        self.clock += timedelta(seconds=seconds)
        return iso(self.clock)

    def add_deployment(self, **fields: Any) -> dict[str, Any]:
        deployment_id = fields.pop("id", None) or new_address()
        now = self.tick()
        record: dict[str, Any] = {
            "id": deployment_id,
            "name": "fake",
            "vault": self.shared_vault()["vault"],
            "market": MARKET_3060,
            "owner": self.owner,
            "status": "DRAFT",
            "replicas": 1,
            "timeout": 60,
            "endpoints": [],
            "confidential": False,
            "active_revision": 1,
            "active_jobs": 0,
            "created_at": now,
            "updated_at": now,
            "strategy": "SIMPLE",
        }
        record.update(fields)
        self.deployments[deployment_id] = record
        self.jobs.setdefault(deployment_id, [])
        self.events.setdefault(deployment_id, [])
        self.tasks.setdefault(deployment_id, [])
        self.revisions.setdefault(deployment_id, [])
        return record

    def add_job(self, deployment_id: str, state: str = "RUNNING", **fields: Any) -> dict[str, Any]:
        now = self.tick()
        job = {
            "tx": "5" * 64,
            "deployment": deployment_id,
            "job": new_address(),
            "market": self.deployments[deployment_id]["market"],
            "node": new_address() if state != "QUEUED" else None,
            "revision": 1,
            "state": state,
            "time_start": 1767225600 if state != "QUEUED" else 0,
            "created_at": now,
            "updated_at": now,
        }
        job.update(fields)
        self.jobs[deployment_id].append(job)
        return job

    def add_event(self, deployment_id: str, type_: str, message: str, **fields: Any) -> None:
        event = {
            "category": "Deployment",
            "deploymentId": deployment_id,
            "type": type_,
            "message": message,
            "created_at": self.tick(),
        }
        event.update(fields)
        self.events[deployment_id].append(event)

    def shared_vault(self) -> dict[str, Any]:
        mine = [v for v in self.vaults if v["owner"] == self.owner and v["vault"] != self.owner]
        if mine:
            return mine[0]
        vault = {"vault": new_address(), "owner": self.owner, "created_at": self.tick()}
        self.vaults.append(vault)
        return vault

    # --- transport ------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        params = {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()}
        path = request.url.path
        self.requests.append(Recorded(request.method, path, params, request.headers, body))
        if request.url.host != "127.0.0.1":
            return httpx.Response(599, text=f"fake has no host {request.url.host}")
        if path in ("/api/markets", "/api/markets/"):
            return httpx.Response(200, json=self.markets)
        if path.startswith("/ipfs/"):
            cid = path.removeprefix("/ipfs/")
            if cid not in self.ipfs:
                return httpx.Response(404, text="not pinned")
            return httpx.Response(200, json=self.ipfs[cid])
        if path == "/pinning/pinJSONToIPFS":
            content = json.loads(body)["pinataContent"]
            cid = fake_cid(content)
            self.ipfs[cid] = content
            return httpx.Response(200, json={"IpfsHash": cid, "PinSize": len(body)})
        if path == "/rpc":
            return httpx.Response(200, json=self._rpc(json.loads(body)))
        if path == "/stats":
            return httpx.Response(200, json=self._stats())
        if path.startswith("/deployments"):
            denied = self._check_auth(request)
            if denied is not None:
                return denied
            # the real service answers 500 to an empty body sent as JSON (wire-contract §2)
            empty_json = not body and "json" in request.headers.get("content-type", "")
            if request.method in ("POST", "DELETE") and empty_json:
                return _error(500, "Internal Server Error")
            return self._route(request.method, path, params, json.loads(body) if body else None)
        return httpx.Response(404, json={"message": f"Route {request.method}:{path} not found"})

    def _check_auth(self, request: httpx.Request) -> httpx.Response | None:
        user = request.headers.get("x-user-id")
        token = request.headers.get("authorization")
        if not user or not token:
            return httpx.Response(401, text="Unauthorized, missing or invalid headers")
        message, signature = token.split(":")[:2]
        try:
            valid = Signature.from_string(signature).verify(
                Pubkey.from_string(user), message.encode()
            )
        except ValueError:
            return _error(500, "Internal Server Error")
        if not valid:
            return httpx.Response(401, text="Unauthorized")
        if self.owner is not None and user != self.owner:
            return httpx.Response(401, text="Unauthorized")
        return None

    def _route(self, method: str, path: str, params: dict[str, str], body: Any) -> httpx.Response:
        parts = path.strip("/").split("/")[1:]
        if method == "GET" and parts == []:
            return self._list_deployments(params)
        if parts == ["vaults"] and method == "GET":
            return httpx.Response(200, json=[v for v in self.vaults if v["owner"] == self.owner])
        if parts == ["vaults", "create"] and method == "POST":
            return httpx.Response(200, json=self.shared_vault())
        if len(parts) == 3 and parts[0] == "vaults" and parts[2] == "withdraw":
            if not any(v["vault"] == parts[1] for v in self.vaults):
                return _error(404, "Vault not found.")
            return _error(500, "Vault has no funds to withdraw.")
        if parts == ["create"] and method == "POST":
            return self._create(body)
        deployment = self.deployments.get(parts[0]) if parts else None
        if deployment is None:
            return _error(404, "Deployment not found.")
        rest = parts[1:]
        return self._deployment_route(method, rest, deployment, params, body)

    def _deployment_route(
        self,
        method: str,
        rest: list[str],
        deployment: dict[str, Any],
        params: dict[str, str],
        body: Any,
    ) -> httpx.Response:
        did = deployment["id"]
        archived = deployment["status"] == "ARCHIVED"
        if method == "GET" and not rest:
            script = self.status_script.get(did)
            if script:
                deployment["status"] = script.pop(0)
            return httpx.Response(200, json=deployment)
        if method == "DELETE" and not rest:
            if deployment["status"] != "STOPPED":
                return _error(500, "Deployment is in the incorrect state.")
            del self.deployments[did]
            return httpx.Response(204)
        action = rest[0]
        if method == "GET":
            if action == "tasks" and archived:
                return _error(500, "Cannot modify an archived deployment.")
            if action in ("tasks", "jobs", "events", "revisions") and len(rest) == 1:
                store = getattr(self, action)[did]
                return self._paginate(action, store, params)
            if action == "jobs" and len(rest) == 2:
                return self._job_detail(deployment, rest[1])
            if action == "header":
                text = f"{params.get('message', 'DEPLOYMENT_HEADER')}:{'3' * 88}"
                if params.get("includeTime") == "true":
                    text += ":1767225600000"
                return httpx.Response(200, json={"header": text})
            if action == "stream":
                frames = self.stream_frames.get(did, [])
                text = ": keep-alive\n\n" + "".join(f"data: {f}\n\n" for f in frames)
                return httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})
        if method == "POST" and action in ("start", "stop", "archive"):
            allowed = {"start": START_FROM, "stop": STOP_FROM, "archive": ("STOPPED",)}[action]
            if archived and action != "start":
                return _error(500, "Cannot modify an archived deployment.")
            if deployment["status"] not in allowed:
                return _error(500, "Deployment is in the incorrect state.")
            new = {"start": "STARTING", "stop": "STOPPING", "archive": "ARCHIVED"}[action]
            deployment["status"] = new
            deployment["updated_at"] = self.tick()
            return httpx.Response(200, json={"status": new, "updated_at": deployment["updated_at"]})
        if method == "PATCH" and action == "update-name":
            deployment["name"] = body["name"]
            return self._updated(deployment, "name")
        if archived:
            return _error(500, "Cannot modify an archived deployment.")
        if method == "PATCH" and action == "update-replica-count":
            deployment["replicas"] = body["replicas"]
            return self._updated(deployment, "replicas")
        if method == "PATCH" and action == "update-timeout":
            if body["timeout"] < 60:
                return httpx.Response(400, json={"message": "body/timeout must be >= 60"})
            deployment["timeout"] = body["timeout"]
            return self._updated(deployment, "timeout")
        if method == "PATCH" and action == "update-schedule":
            if deployment["strategy"] != "SCHEDULED":
                return _error(400, "Deployment is using an incorrect strategy.")
            deployment["schedule"] = body["schedule"]
            return self._updated(deployment, "schedule")
        if method == "PATCH" and action == "update-active-revision":
            numbers = [r["revision"] for r in self.revisions[did]]
            if body["active_revision"] not in numbers:
                return _error(400, "The specified revision does not exist.")
            deployment["active_revision"] = body["active_revision"]
            return self._updated(deployment, "active_revision", "endpoints")
        if method == "POST" and action == "create-revision":
            self._add_revision(deployment, body)
            reply = self._updated(deployment, "active_revision", "endpoints")
            payload = json.loads(reply.content)
            payload["revisions"] = self.revisions[did]
            return httpx.Response(200, json=payload)
        return httpx.Response(404, json={"message": f"Route {method}:{rest} not found"})

    def _updated(self, deployment: dict[str, Any], *keys: str) -> httpx.Response:
        deployment["updated_at"] = self.tick()
        reply = {key: deployment[key] for key in keys}
        reply["updated_at"] = deployment["updated_at"]
        return httpx.Response(200, json=reply)

    def _add_revision(self, deployment: dict[str, Any], job_definition: dict[str, Any]) -> None:
        number = deployment["active_revision"] + (1 if self.revisions[deployment["id"]] else 0)
        stored = {**job_definition, "deployment_id": deployment["id"]}
        self.revisions[deployment["id"]].append(
            {
                "revision": number,
                "deployment": deployment["id"],
                "ipfs_definition_hash": fake_cid(stored),
                "job_definition": stored,
                "created_at": self.tick(),
            }
        )
        deployment["active_revision"] = number

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        if body.get("vault") and body.get("new_vault"):
            return _error(400, "Bad Request")
        if body.get("vault"):
            if not any(v["vault"] == body["vault"] for v in self.vaults):
                return _error(404, "Vault not found.")
            vault = body["vault"]
        elif body.get("new_vault"):
            vault = new_address()
            self.vaults.append({"vault": vault, "owner": self.owner, "created_at": self.tick()})
        else:
            vault = self.shared_vault()["vault"]
        fields: dict[str, Any] = {
            k: body[k] for k in ("name", "market", "replicas", "timeout", "strategy") if k in body
        }
        if body["strategy"] == "SCHEDULED":
            fields["schedule"] = body["schedule"]
        if body["strategy"] == "INFINITE":
            fields["rotation_time"] = body.get("rotation_time", 20)
        status = "STARTING" if body.get("autostart") else "DRAFT"
        record = self.add_deployment(vault=vault, status=status, **fields)
        self._add_revision(record, body["job_definition"])
        return httpx.Response(200, json=record)

    def _job_detail(self, deployment: dict[str, Any], address: str) -> httpx.Response:
        for job in self.jobs[deployment["id"]]:
            if job["job"] == address:
                return httpx.Response(
                    200,
                    json={
                        "confidential": deployment["confidential"],
                        "revision": job["revision"],
                        "market": deployment["market"],
                        "node": job["node"] or "11111111111111111111111111111111",
                        "state": JOB_STATE_NUMBER[job["state"]],
                        "jobStatus": None,
                        "jobDefinition": {"version": "0.1"},
                        "jobResult": None,
                        "timeStart": job["time_start"],
                        "timeEnd": 0,
                        "listedAt": 1767225500,
                    },
                )
        return _error(404, "Job not found")

    def _list_deployments(self, params: dict[str, str]) -> httpx.Response:
        items = [d for d in self.deployments.values() if d["owner"] == self.owner]
        if "status" in params:
            wanted = params["status"].split(",")
            items = [d for d in items if d["status"] in wanted]
        if "strategy" in params:
            items = [d for d in items if d["strategy"] in params["strategy"].split(",")]
        if "search" in params:
            needle = params["search"].lower()
            items = [d for d in items if needle in d["id"].lower() or needle in d["name"].lower()]
        for exact in ("name", "vault"):  # like the service (found by test_api_backends)
            if exact in params:
                items = [d for d in items if d[exact] == params[exact]]
        return self._paginate("deployments", items, params)

    def _paginate(
        self, key: str, items: list[dict[str, Any]], params: dict[str, str]
    ) -> httpx.Response:
        limit = int(params.get("limit", "10"))
        if limit not in (10, 20, 50, 100):
            return httpx.Response(
                400, json={"message": "querystring/limit must be equal to constant"}
            )
        ordered = sorted(
            items, key=lambda i: i["created_at"], reverse=params.get("sort_order", "desc") == "desc"
        )
        cursor = params.get("cursor")
        try:
            start = int(json.loads(base64.b64decode(cursor))["offset"]) if cursor else 0
        except ValueError:
            return _error(500, "Internal Server Error")
        page = ordered[start : start + limit]
        more = start + limit < len(ordered)
        return httpx.Response(
            200,
            json={
                key: page,
                "pagination": {
                    "cursor_next": _encode_cursor(start + limit) if more else None,
                    "cursor_prev": _encode_cursor(max(0, start - limit))
                    if start and page
                    else None,
                    "total_items": len(ordered),
                },
            },
        )

    def _rpc(self, payload: dict[str, Any]) -> dict[str, Any]:
        method, params = payload["method"], payload["params"]
        result: Any
        if method == "getBalance":
            result = self._rpc_value(self.lamports.get(params[0], 0))
        elif method == "getAccountInfo":
            result = self._rpc_value(self._token_account(params[0]))
        elif method == "getLatestBlockhash":
            blockhash = {"blockhash": "EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N"}
            result = self._rpc_value({**blockhash, "lastValidBlockHeight": 100})
        elif method == "sendTransaction":
            tx = VersionedTransaction.from_bytes(base64.b64decode(params[0]))
            self.sent_transactions.append(tx)
            result = str(tx.signatures[0])
        elif method == "getSignatureStatuses":
            status = {
                "slot": 1,
                "confirmations": None,
                "err": None,
                "status": {"Ok": None},
                "confirmationStatus": "confirmed",
            }
            result = self._rpc_value([status for _ in params[0]])
        else:
            return {
                "jsonrpc": "2.0",
                "id": payload["id"],
                "error": {"code": -32601, "message": method},
            }
        return {"jsonrpc": "2.0", "id": payload["id"], "result": result}

    @staticmethod
    def _rpc_value(value: Any) -> dict[str, Any]:
        return {"context": {"slot": 1}, "value": value}

    def _token_account(self, address: str) -> dict[str, Any] | None:
        mint = Pubkey.from_string(self.nos_mint)
        for owner, amount in self.nos_units.items():
            if str(get_associated_token_address(Pubkey.from_string(owner), mint)) == address:
                state = TokenAccountState.Initialized
                data = TokenAccount(
                    mint, Pubkey.from_string(owner), amount, None, state, None, 0, None
                )
                return {
                    "data": [base64.b64encode(bytes(data)).decode(), "base64"],
                    "executable": False,
                    "lamports": 2039280,
                    "owner": str(TOKEN_PROGRAM_ID),
                    "rentEpoch": 0,
                    "space": 165,
                }
        return None

    def _stats(self) -> dict[str, Any]:
        return {
            "running_ms": 1234,
            "started_at": "2026-01-01T00:00:00.000Z",
            "jobs": {"listed": 3, "extended": 1, "stopped": 2},
            "tasks": {
                "in_progress": 0,
                "failed": 0,
                "successful": 6,
                "timed_out": 0,
                "average_time_ms": 12.5,
            },
        }


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset, "direction": "next"}).encode()).decode()


def _error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": message})


# --- client wiring and a vault stand-in for tests ---------------------------------------------


def sync_client(fake: FakeNosana, wallet: Any, **kwargs: Any) -> Any:
    from nosana_nb.core.client import NosanaClient

    return NosanaClient("local", wallet, transport=httpx.MockTransport(fake), env={}, **kwargs)


def async_client(fake: FakeNosana, wallet: Any, **kwargs: Any) -> Any:
    from nosana_nb.core.client import AsyncNosanaClient

    return AsyncNosanaClient("local", wallet, transport=httpx.MockTransport(fake), env={}, **kwargs)


@dataclass(frozen=True)
class Balance:
    """Shaped like core.vaults.VaultBalance."""

    lamports: int
    nos_base_units: int

    @property
    def sol(self) -> Decimal:
        return Decimal(self.lamports) / 10**9

    @property
    def nos(self) -> Decimal:
        return Decimal(self.nos_base_units) / 10**6


class BalanceBook:
    """A vault factory whose vaults report preset balances and record who asked."""

    def __init__(self, default: Balance | None = None) -> None:
        self.balances: dict[str, Balance] = {}
        self.default = default or Balance(0, 0)
        self.asked: list[str] = []

    def __call__(self, address: str, **_dependencies: Any) -> Any:
        book = self

        class _Vault:
            def __init__(self) -> None:
                self.address = address

            def get_balance(self) -> Balance:
                book.asked.append(address)
                return book.balances.get(address, book.default)

        return _Vault()

    def async_factory(self, address: str, **_dependencies: Any) -> Any:
        sync_vault = self(address)

        class _AsyncVault:
            def __init__(self) -> None:
                self.address = address

            async def get_balance(self) -> Balance:
                return sync_vault.get_balance()  # type: ignore[no-any-return]

        return _AsyncVault()
