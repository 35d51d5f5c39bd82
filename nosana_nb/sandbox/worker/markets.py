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
"""What the markets API reports and what the sandbox chain charges: at listing and at each
extension the vault pays ``deposit * 10 // 100`` to the rewards account on top of the deposit,
never refunded (the jobs program's ``deposit / JOB_FEE_FRACTION`` with a fraction of 10)."""

UPTIME_HOURS_PER_DAY = 24

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


def network_fee(deposit: int, percentage: int = NETWORK_FEE_PERCENTAGE) -> int:
    """The fee the chain charges on a deposit of ``deposit`` NOS base units (rounded down)."""
    return deposit * percentage // 100


def _derived_address(slug: str, purpose: str = "market") -> str:
    digest = hashlib.sha256(f"nosana-sandbox-{purpose}:{slug}".encode()).digest()
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


def _premium_community_relation(spec: MarketSpec) -> str | None:
    """The address of the paired tier: a community market names its premium market and back."""
    if spec.type == "COMMUNITY":
        partner_slug = spec.slug.removesuffix("-community")
    else:
        partner_slug = f"{spec.slug}-community"
    partner = next((m for m in MARKETS if m.slug == partner_slug), None)
    return None if partner is None else partner.address


def market_to_wire(spec: MarketSpec, *, nodes: list[str]) -> dict[str, Any]:
    """One item of ``GET /api/markets/`` in the service's shape (docs/wire-contract.md#markets).

    ``nodes`` are the addresses of the market's nodes. How many of them are idle is not part of
    this reply: it is read from the market account's node queue on chain.
    """
    usd_per_hour = float(spec.usd_reward_per_hour)
    return {
        "address": spec.address,
        "slug": spec.slug,
        "name": spec.name,
        "sft": _derived_address(spec.slug, "sft"),
        "type": spec.type,
        "usd_reward_per_hour": usd_per_hour,
        "nos_reward_per_second": float(spec.nos_job_price_per_second),
        "nos_job_price_per_second": float(spec.nos_job_price_per_second),
        "network_fee_percentage": NETWORK_FEE_PERCENTAGE,
        "premium_community_relation": _premium_community_relation(spec),
        "gpu_types": list(spec.gpu_types),
        "required_images": [],
        "required_remote_resources": [],
        "nodes": list(nodes),
        "client": False,
        "lowest_vram": spec.lowest_vram,
        "max_usd_uptime_reward_per_day": round(usd_per_hour * UPTIME_HOURS_PER_DAY, 6),
    }


def required_resources_to_wire(spec: MarketSpec) -> dict[str, Any]:
    """``GET /api/markets/{id}/required-resources``: what a node must hold to join."""
    return {"required_images": [], "required_remote_resources": []}
