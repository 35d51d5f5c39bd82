"""The sandbox's GPU markets: documented addresses, names, GPU types and prices.

Names, slugs and addresses are the ones Nosana publishes for its markets, prices the published
USD per hour of each tier. The community tiers have no published address; the sandbox derives
a stable one from the slug.
On-chain prices (NOS base units per second) follow from the USD price at a fixed sandbox
NOS/USD rate, so USD and NOS figures agree with each other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from solders.pubkey import Pubkey

NOS_USD = Decimal("0.30")
"""Fixed NOS price in USD inside the sandbox."""

NETWORK_FEE_PERCENTAGE = 10
"""What the markets API reports (the dashboard adds 10 %); the sandbox chain charges no fee,
like the current jobs program (JOB_FEE_FRACTION = 0)."""

NOS_DECIMALS = 6


@dataclass(frozen=True)
class MarketSpec:
    address: str
    slug: str
    name: str
    type: str  # PREMIUM | COMMUNITY | OTHER
    gpu_types: tuple[str, ...]
    lowest_vram: int  # GB
    usd_reward_per_hour: Decimal
    nodes: int  # size of the simulated node pool
    job_timeout_s: int = 120 * 60
    job_expiration_s: int = 24 * 3600

    @property
    def job_price(self) -> int:
        """On-chain price: NOS base units (1e-6 NOS) per second."""
        nos_per_second = self.usd_reward_per_hour / Decimal(3600) / NOS_USD
        scaled = nos_per_second * (10**NOS_DECIMALS)
        return max(1, int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP)))

    @property
    def nos_job_price_per_second(self) -> Decimal:
        return Decimal(self.job_price) / Decimal(10**NOS_DECIMALS)


def _derived_address(slug: str) -> str:
    digest = hashlib.sha256(f"nosana-sandbox-market:{slug}".encode()).digest()
    return str(Pubkey.from_bytes(digest))


MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec(
        "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq",
        "nvidia-3060",
        "NVIDIA 3060",
        "PREMIUM",
        ("RTX 3060", "RTX 3060 Ti"),
        12,
        Decimal("0.0436"),
        nodes=8,
    ),
    MarketSpec(
        _derived_address("nvidia-3060-community"),
        "nvidia-3060-community",
        "NVIDIA 3060 Community",
        "COMMUNITY",
        ("RTX 3060",),
        12,
        Decimal("0.0327"),
        nodes=4,
    ),
    MarketSpec(
        "CA5pMpqkYFKtme7K31pNB1s62X2SdhEv1nN9RdxKCpuQ",
        "nvidia-3090",
        "NVIDIA 3090",
        "PREMIUM",
        ("RTX 3090",),
        24,
        Decimal("0.1745"),
        nodes=6,
    ),
    MarketSpec(
        "97G9NnvBDQ2WpKu6fasoMsAKmfj63C9rhysJnkeWodAf",
        "nvidia-4090",
        "NVIDIA 4090",
        "PREMIUM",
        ("RTX 4090",),
        24,
        Decimal("0.2909"),
        nodes=6,
    ),
    MarketSpec(
        _derived_address("nvidia-4090-community"),
        "nvidia-4090-community",
        "NVIDIA 4090 Community",
        "COMMUNITY",
        ("RTX 4090",),
        24,
        Decimal("0.2182"),
        nodes=3,
    ),
    MarketSpec(
        "EjryZ6XEthz3z7nnLfjXBYafyn7VyHgChfbfM47LfAao",
        "nvidia-6000-a6000",
        "NVIDIA A6000",
        "PREMIUM",
        ("RTX A6000",),
        48,
        Decimal("0.3636"),
        nodes=3,
    ),
    MarketSpec(
        "Crop49jpc7prcgAcS82WbWyGHwbN5GgDym3uFbxxCTZg",
        "nvidia-h100",
        "NVIDIA H100",
        "PREMIUM",
        ("H100",),
        80,
        Decimal("1.3636"),
        nodes=2,
    ),
    MarketSpec(
        _derived_address("nvidia-h100-community"),
        "nvidia-h100-community",
        "NVIDIA H100 Community",
        "COMMUNITY",
        ("H100",),
        80,
        Decimal("1.0227"),
        nodes=1,
    ),
)

MARKETS_BY_ADDRESS: dict[str, MarketSpec] = {m.address: m for m in MARKETS}


def find_market(address_or_slug: str) -> MarketSpec | None:
    key = address_or_slug.strip()
    found = MARKETS_BY_ADDRESS.get(key)
    if found is not None:
        return found
    return next((m for m in MARKETS if m.slug == key), None)


def market_to_wire(spec: MarketSpec, *, idle_nodes: int | None = None) -> dict[str, Any]:
    """The shape of the markets API (docs/wire-contract.md#markets)."""
    return {
        "address": spec.address,
        "slug": spec.slug,
        "name": spec.name,
        "type": spec.type,
        "usd_reward_per_hour": float(spec.usd_reward_per_hour),
        "nos_job_price_per_second": float(spec.nos_job_price_per_second),
        "job_price": spec.job_price,
        "network_fee_percentage": NETWORK_FEE_PERCENTAGE,
        "gpu_types": list(spec.gpu_types),
        "lowest_vram": spec.lowest_vram,
        "job_timeout": spec.job_timeout_s,
        "job_expiration": spec.job_expiration_s,
        "nodes": spec.nodes,
        "idle_nodes": spec.nodes if idle_nodes is None else idle_nodes,
        "required_images": [],
        "client": None,
    }
