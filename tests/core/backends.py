"""The two backends of the core's request-level tests: the fake and the real sandbox.

``tests/core/fake_api.py`` is a second, hand-written deployment manager. A test that takes the
``backend`` fixture runs twice - over ``FakeNosana`` (MockTransport) and over the in-process
sandbox (real HTTP, one sandbox per test module) - through the public client only. State is
seeded with the client's own calls (and, on the sandbox, its worker and manual clock); the wire
is read from a recording transport. Fakes stay only for what the sandbox cannot do: malformed
replies, scripted status sequences, exact canned bodies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx

from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.config import NetworkConfig, local_network
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.validation import DeploymentStatus
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle, start
from tests.core.fake_api import MARKET_3060, FakeNosana
from tests.core.faults import FaultyTransport, Seen

BACKENDS = ("fake", "sandbox")
JOB = container_job("docker.io/library/alpine:3", ["sleep", "60"])
LAMPORTS_PER_SOL = 10**9
NOS_BASE_UNITS = 10**6


@dataclass
class Backend:
    kind: str
    network: NetworkConfig
    transport: FaultyTransport
    fake: FakeNosana | None = None
    sandbox: SandboxHandle | None = None

    def client(self, wallet: Wallet | None, **options: Any) -> NosanaClient:
        return NosanaClient(self.network, wallet, transport=self.transport, env={}, **options)

    def aclient(self, wallet: Wallet | None, **options: Any) -> AsyncNosanaClient:
        return AsyncNosanaClient(self.network, wallet, transport=self.transport, env={}, **options)

    # -- the wire -------------------------------------------------------------------------------
    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        """Requests sent so far (to the service and the RPC), optionally one method/path."""
        return [
            s
            for s in self.transport.seen
            if (method is None or s.method == method) and (path is None or s.path == path)
        ]

    def paths(self, method: str) -> list[str]:
        return [seen.path for seen in self.requests(method)]

    def forget(self) -> None:
        """Clear the record (after seeding, before the part under test)."""
        self.transport.seen.clear()

    # -- state ----------------------------------------------------------------------------------
    def deployment(self, client: NosanaClient, status: str = "DRAFT", **options: Any) -> Deployment:
        """A deployment of ``client``'s wallet in ``status`` (DRAFT, RUNNING, STOPPED,
        ARCHIVED), made through the client on the sandbox and seeded directly on the fake."""
        if self.fake is not None:
            kept = ("replicas", "name", "strategy", "schedule")
            fields = {k: v for k, v in options.items() if k in kept}
            if "timeout" in options:
                fields["timeout"] = int(_seconds(options["timeout"]) // 60)
            return client.deployments.get(self.fake.add_deployment(status=status, **fields)["id"])
        assert self.sandbox is not None
        made = create(client, options.pop("name", "seeded"), **options)
        if status == "DRAFT":
            return made
        self.fund(made.state.vault, sol="0.1", nos="100")
        made.start(check_funds=False)
        self.settle()
        assert made.refresh().status is DeploymentStatus.RUNNING, made.state.status
        if status == "RUNNING":
            return made
        made.stop()
        self.settle()
        assert made.refresh().status is DeploymentStatus.STOPPED, made.state.status
        if status == "STOPPED":
            return made
        assert status == "ARCHIVED", status
        made.archive()
        return made

    def fund(self, address: str, *, sol: str = "0", nos: str = "0") -> None:
        """Give ``address`` exactly ``sol`` SOL and ``nos`` NOS more (whole-unit decimals)."""
        if self.fake is not None:
            lamports = int(Decimal(sol) * LAMPORTS_PER_SOL)
            units = int(Decimal(nos) * NOS_BASE_UNITS)
            self.fake.lamports[address] = self.fake.lamports.get(address, 0) + lamports
            self.fake.nos_units[address] = self.fake.nos_units.get(address, 0) + units
            return
        assert self.sandbox is not None
        self.sandbox.faucet(address, sol=sol if Decimal(sol) else None, nos=nos)

    def settle(self) -> None:
        """Let the sandbox's worker finish what is due now (no time passes); no-op on the fake."""
        if self.sandbox is not None:
            self.sandbox.worker.settle()


def create(client: NosanaClient, name: str, **overrides: Any) -> Deployment:
    options: dict[str, Any] = {
        "name": name,
        "market": MARKET_3060,
        "replicas": 1,
        "timeout": timedelta(minutes=10),
        "job_definition": JOB,
        "check_funds": False,
    }
    return client.deployments.create(**(options | overrides))


def _seconds(value: Any) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def start_sandbox(seed: int = 11) -> Iterator[SandboxHandle]:
    """A module's sandbox: in memory, on a frozen (manual) clock."""
    handle = start(db=":memory:", speed=None, seed=seed)
    try:
        yield handle
    finally:
        handle.stop()


def make_backend(kind: str, wallet: Wallet, sandbox: SandboxHandle | None = None) -> Backend:
    """A backend of ``kind`` ("fake" or "sandbox", which needs the module's ``sandbox``)."""
    if kind == "fake":
        network = local_network()
        fake = FakeNosana(owner=wallet.address, nos_mint=network.nos_mint)
        transport = FaultyTransport.over(httpx.MockTransport(fake))
        return Backend("fake", network, transport, fake=fake)
    assert kind == "sandbox"
    assert sandbox is not None
    network = local_network(sandbox.api_url, nos_mint=sandbox.nos_mint)
    return Backend("sandbox", network, FaultyTransport.over_http(), sandbox=sandbox)
