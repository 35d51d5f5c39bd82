"""The sandbox attacks of issue 14 (items 5-11) as report rows: what was tried, what held.

``bench/report_hardening.py`` prints these rows; ``test_sandbox_attacks.py`` asserts the same
attacks one by one. "Held" means the sandbox answered safely: the refusal in the route's own
format, bounded time and memory, no exception escaping a handler.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from solders.keypair import Keypair

from nosana_nb.sandbox import EdgeLimits, RemoteBindRefused, SandboxHandle, start
from tests.hardening.sandbox_attacks import (
    BODY_ROUTES,
    ITEM7_ATTACKS,
    JSON,
    MIB,
    SOL,
    airdrop_body,
    answered_in_route_format,
    chunked_upload,
    close_all,
    closed_by_server,
    created_deployment,
    declared_oversize,
    half_open_connections,
    huge_replicas_next_to_a_normal_deployment,
    quiet_server_logs,
    raw_request,
    sandbox_process,
    signed_client,
)


@dataclass(frozen=True)
class AttackRow:
    item: int
    attack: str
    tried: int
    held: int
    figures: str


def fairness() -> list[AttackRow]:
    seen = huge_replicas_next_to_a_normal_deployment(affordable_jobs=300)
    checks = [
        seen.normal_served_at_tick is not None and seen.normal_served_at_tick <= 1,
        max(seen.listed_per_tick) <= 20,
        max(seen.tick_seconds) < 2.0,
        seen.peak_rss_growth_mib < 48,
        seen.huge_status == "INSUFFICIENT_FUNDS" and seen.listed_when_dry == 300,
        seen.six_hours_advance_seconds < 10.0,
        seen.failed_worker_passes == 0,
    ]
    figures = (
        f"other deployment served at tick {seen.normal_served_at_tick}; "
        f"<= {max(seen.listed_per_tick)} jobs/tick; tick <= {max(seen.tick_seconds):.2f} s; "
        f"peak RSS +{seen.peak_rss_growth_mib:.1f} MiB; dry -> {seen.huge_status}; "
        f"6 h advance {seen.six_hours_advance_seconds:.1f} s"
    )
    return [
        AttackRow(
            5, "replicas 1,000,000 beside a normal deployment", len(checks), sum(checks), figures
        )
    ]


def bodies(sandbox: SandboxHandle) -> list[AttackRow]:
    uploads = [
        chunked_upload(sandbox.port, path, total_bytes=32 * MIB, headers=JSON)
        for path in BODY_ROUTES
    ]
    held = sum(u.reply.status == 413 and u.peak_rss_growth_mib < 12 for u in uploads)
    worst = max(u.peak_rss_growth_mib for u in uploads)
    declared = [declared_oversize(sandbox.port, p, declared_bytes=1024 * MIB) for p in BODY_ROUTES]
    declared_held = sum(r.status == 413 and r.seconds < 2.0 for r in declared)
    slowest = max(r.seconds for r in declared)
    return [
        AttackRow(
            6,
            "32 MiB chunked body, no credentials (4 routes)",
            len(uploads),
            held,
            f"413; peak RSS +{worst:.1f} MiB at most",
        ),
        AttackRow(
            6,
            "Content-Length 1 GiB, no body (4 routes)",
            len(declared),
            declared_held,
            f"413 within {slowest:.2f} s",
        ),
    ]


def hostile_json(sandbox: SandboxHandle) -> list[AttackRow]:
    held = 0
    with signed_client(sandbox) as client, quiet_server_logs():
        deployment = created_deployment(client)
        for name, (method, template, options) in ITEM7_ATTACKS.items():
            before = sandbox.unhandled_errors
            response = client.request(method, template.format(id=deployment["id"]), **options)
            held += answered_in_route_format(name, response) and sandbox.unhandled_errors == before
    return [
        AttackRow(
            7,
            "nesting 800-5,000 deep, 1e400, NaN/array ids, deep cursors",
            len(ITEM7_ATTACKS),
            held,
            f"unhandled exceptions: {sandbox.unhandled_errors}",
        )
    ]


def airdrops() -> list[AttackRow]:
    rows = []
    with start(db=":memory:", speed=None) as sandbox, httpx.Client(timeout=10) as rpc:
        address = str(Keypair().pubkey())
        body = airdrop_body(address, 2 * SOL)
        cross_site = [
            raw_request(sandbox.port, "POST", "/rpc", headers=headers, body=body).status
            for headers in (
                {"content-type": "text/plain", "origin": "https://attacker.example"},
                {**JSON, "origin": "null"},
                {**JSON, "origin": "http://localhost.attacker.example"},
            )
        ]
        plain = raw_request(
            sandbox.port, "POST", "/rpc", headers={"content-type": "text/plain"}, body=body
        ).status
        refused = sum(status == 403 for status in cross_site) + (plain == 415)
        rows.append(
            AttackRow(
                8,
                "airdrop from a web page (foreign/null Origin, text/plain)",
                4,
                refused,
                f"{sandbox.balances(address)['lamports']} lamports reached the wallet",
            )
        )
        granted = 0
        as_intended = 0
        pool_requests = 1_000 // 5  # what the public pool holds at 5 SOL a request
        for request_id in range(301):  # one oversized request, then 300 x 5 SOL
            lamports = 10**18 if request_id == 0 else 5 * SOL
            reply = rpc.post(
                sandbox.rpc_url,
                content=airdrop_body(str(Keypair().pubkey()), lamports, request_id),
                headers=JSON,
            ).json()
            got = "result" in reply
            granted += lamports if got else 0
            as_intended += got == (1 <= request_id <= pool_requests)
        wallet = str(Keypair().pubkey())
        sandbox.faucet(wallet, sol="100", nos="1000")
        faucet_ok = sandbox.balances(wallet)["lamports"] == 100 * SOL
        rows.append(
            AttackRow(
                8,
                "requestAirdrop drain: 1 x 10^9 SOL, 300 x 5 SOL",
                301,
                as_intended if faucet_ok else 0,
                f"granted {granted // SOL} SOL (the public pool); faucet still funds: {faucet_ok}",
            )
        )
    return rows


def exposure(sandbox: SandboxHandle) -> list[AttackRow]:
    hosts = ("0.0.0.0", "::", "192.0.2.10")
    refused = 0
    for host in hosts:
        try:
            start(db=":memory:", speed=None, host=host).stop()
        except RemoteBindRefused:
            refused += 1
    names = ("attacker.example", "127.0.0.1.nip.io", "localhost.attacker.example", "evil.test")
    paths = ("/health", "/stats", "/deployments", "/_sandbox/info", "/documentation/json")
    statuses = [
        raw_request(sandbox.port, "GET", path, headers={"host": f"{name}:{sandbox.port}"}).status
        for name in names
        for path in paths
    ]
    return [
        AttackRow(9, "bind beyond loopback without --allow-remote", len(hosts), refused, "refused"),
        AttackRow(
            9,
            "DNS rebinding: foreign Host on 5 routes",
            len(statuses),
            sum(status == 421 for status in statuses),
            "421",
        ),
    ]


def slow_clients() -> list[AttackRow]:
    with sandbox_process(max_descriptors=256) as port:
        attackers = half_open_connections(port, 300)
        try:
            reply = raw_request(port, "GET", "/health", timeout=5.0)
        finally:
            close_all(attackers)
    rows = [
        AttackRow(
            10,
            "300 half-sent requests, 256 descriptors",
            1,
            int(reply.status == 200 and reply.seconds < 2.0),
            f"next request: {reply.status} in {reply.seconds:.2f} s",
        )
    ]
    limits = EdgeLimits(head_timeout_s=2.5, body_timeout_s=1.0, max_connections=16)
    with start(db=":memory:", speed=None, limits=limits) as sandbox:
        attackers = half_open_connections(sandbox.port, 40)
        try:
            served = raw_request(sandbox.port, "GET", "/health", timeout=4.0)
            closed = closed_by_server(attackers, wait_s=5.0)
        finally:
            close_all(attackers)
        slow = raw_request(
            sandbox.port,
            "POST",
            "/pinning/pinJSONToIPFS",
            headers={**JSON, "content-length": "100"},
            body=b'{"a":',
            timeout=4.0,
        )
    rows.append(
        AttackRow(
            10,
            "40 half-open connections, cap 16",
            41,
            closed + int(served.status == 200),
            f"next request {served.status} in {served.seconds:.2f} s; {closed} attackers closed",
        )
    )
    rows.append(
        AttackRow(
            10,
            "body trickling past a 1 s deadline",
            1,
            int(slow.status == 408),
            f"{slow.status} after {slow.seconds:.1f} s",
        )
    )
    return rows


@contextmanager
def _data_home(folder: str) -> Iterator[None]:
    previous_home = os.environ.get("XDG_DATA_HOME")
    previous_umask = os.umask(0o022)
    os.environ["XDG_DATA_HOME"] = folder
    try:
        yield
    finally:
        os.umask(previous_umask)
        if previous_home is None:
            del os.environ["XDG_DATA_HOME"]
        else:
            os.environ["XDG_DATA_HOME"] = previous_home


def files() -> list[AttackRow]:
    import nosana_nb

    with tempfile.TemporaryDirectory() as folder, _data_home(folder):
        try:
            nosana_nb.connect(speed=None).close()
            data = Path(folder) / "nosana_nb"
            wanted = {
                data: 0o700,
                data / "sandbox.db": 0o600,
                data / "sandbox.db-wal": 0o600,
                data / "sandbox.db-shm": 0o600,
                data / "demo-wallet.json": 0o600,
            }
            modes = {path: stat.S_IMODE(path.stat().st_mode) for path in wanted}
        finally:
            nosana_nb.stop_sandbox()
    shown = ", ".join(f"{path.name} {mode:o}" for path, mode in modes.items())
    return [
        AttackRow(
            11,
            "files connect() leaves (umask 022)",
            len(wanted),
            sum(modes[path] == mode for path, mode in wanted.items()),
            shown,
        )
    ]


def sandbox_attack_rows() -> list[AttackRow]:
    rows: list[AttackRow] = []
    rows += fairness()
    with start(db=":memory:", speed=None) as sandbox:
        shared: list[Callable[[SandboxHandle], list[AttackRow]]] = [bodies, hostile_json, exposure]
        for attack in shared:
            rows += attack(sandbox)
    rows += airdrops()
    rows += slow_clients()
    rows += files()
    return sorted(rows, key=lambda row: row.item)
