"""Cost arithmetic to the base unit: runtime × price, the listing fee, timeout cap, open jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from nosana_nb.core.errors import ValidationError
from nosana_nb.frames import (
    cost_dataframe,
    deployment_cost_totals,
    deployments_dataframe,
    jobs_dataframe,
    markets_dataframe,
)

START = 1_735_689_600  # 2025-01-01T00:00:00Z
NOW = datetime(2025, 1, 1, 2, tzinfo=UTC)
MARKET = {
    "address": "mkt",
    "job_price": 43,
    "network_fee_percentage": 10,
    "usd_reward_per_hour": 0.0436,
}


def job(name: str, *, start: int = 0, end: int | None = None, **extra: Any) -> dict[str, Any]:
    record = {
        "job": name,
        "deployment": "dep-a",
        "market": "mkt",
        "state": "RUNNING" if start and end is None else ("COMPLETED" if start else "QUEUED"),
        "time_start": start,
        "created_at": "2025-01-01T00:00:00.000Z",
        "updated_at": "2025-01-01T00:00:00.000Z",
    }
    if end is not None:
        record["timeEnd"] = end
    return record | extra


def test_finished_job_costs_price_times_runtime_plus_the_listing_fee() -> None:
    row = cost_dataframe(
        [job("a", start=START, end=START + 1001)], [MARKET], timeout=3601, now=NOW
    ).iloc[0]
    assert row["runtime_seconds"] == 1001
    assert row["runtime"] == pd.Timedelta(seconds=1001)
    assert row["cost_base_units"] == 43 * 1001  # 43043
    # the fee is 10 % of the deposit (43 × 3601 = 154843), rounded down, not of the runtime
    assert row["fee_base_units"] == 15484
    assert row["total_base_units"] == 43043 + 15484
    assert row["cost_nos"] == pytest.approx(0.043043)
    assert row["total_nos"] == pytest.approx(0.058527)
    assert row["usd"] == pytest.approx(0.0436 * 1001 / 3600)
    assert row["usd_with_fee"] == pytest.approx(0.0436 * 1001 / 3600 * 1.1)
    assert not row["is_open"]


def test_open_job_is_billed_until_now() -> None:
    row = cost_dataframe([job("a", start=START)], [MARKET], now=NOW).iloc[0]
    assert row["is_open"]
    assert row["billed_until"] == pd.Timestamp(NOW)
    assert row["runtime_seconds"] == 7200
    assert row["cost_base_units"] == 43 * 7200


def test_runtime_is_capped_at_the_deployment_timeout() -> None:
    deployments = [{"id": "dep-a", "timeout": 60, "status": "RUNNING", "strategy": "SIMPLE"}]
    row = cost_dataframe([job("a", start=START)], [MARKET], deployments=deployments, now=NOW).iloc[
        0
    ]
    assert row["runtime_seconds"] == 3600
    assert row["billed_until"] == pd.Timestamp(START, unit="s", tz="UTC") + pd.Timedelta(hours=1)
    capped = cost_dataframe(
        [job("a", start=START)], [MARKET], timeout=timedelta(minutes=10), now=NOW
    )
    assert capped["runtime_seconds"].iloc[0] == 600
    frame = deployments_dataframe(deployments)
    again = cost_dataframe(
        jobs_dataframe([job("a", start=START)]),
        markets_dataframe([MARKET]),
        deployments=frame,
        now=NOW,
    )
    assert again["runtime_seconds"].iloc[0] == 3600


def test_queued_job_costs_nothing_and_unknown_market_is_missing() -> None:
    frame = cost_dataframe(
        [job("q"), job("x", start=START, end=START + 10, market="other")], [MARKET], now=NOW
    )
    queued, unknown = frame.iloc[0], frame.iloc[1]
    assert queued["runtime_seconds"] == 0
    assert queued["cost_base_units"] == 0
    assert pd.isna(queued["started_at"])
    assert unknown["runtime_seconds"] == 10
    assert pd.isna(unknown["cost_base_units"])
    assert pd.isna(unknown["total_nos"])


def test_fractional_fee_percentage_is_exact() -> None:
    market = MARKET | {"network_fee_percentage": 2.5, "job_price": 40}
    row = cost_dataframe([job("a", start=START, end=START + 3)], [market], timeout=3, now=NOW)
    assert row["cost_base_units"].iloc[0] == 120
    assert row["fee_base_units"].iloc[0] == 3  # exactly 2.5 % of 120
    rounded = cost_dataframe(
        [job("a", start=START, end=START + 3)], [market | {"job_price": 41}], timeout=3, now=NOW
    )
    assert rounded["fee_base_units"].iloc[0] == 3  # 2.5 % of 123 = 3.075, rounded down


def test_fee_is_charged_on_listing_even_when_the_job_never_ran() -> None:
    row = cost_dataframe([job("q")], [MARKET], timeout=600, now=NOW).iloc[0]
    assert (row["cost_base_units"], row["fee_base_units"]) == (0, 43 * 600 // 10)
    assert row["total_base_units"] == 2580


def test_fee_is_unknown_without_a_timeout() -> None:
    row = cost_dataframe([job("a", start=START, end=START + 10)], [MARKET], now=NOW).iloc[0]
    assert row["cost_base_units"] == 430
    assert pd.isna(row["fee_base_units"])
    assert pd.isna(row["total_base_units"])


def test_end_before_start_never_goes_negative() -> None:
    row = cost_dataframe([job("a", start=START, end=START - 50)], [MARKET], now=NOW).iloc[0]
    assert row["runtime_seconds"] == 0


def test_deployment_totals_sum_base_units_exactly() -> None:
    jobs = [
        job("a", start=START, end=START + 100),
        job("b", start=START, end=START + 33),
        job("c", start=START, deployment="dep-b"),
    ]
    cost = cost_dataframe(jobs, [MARKET], timeout=3600, now=NOW)
    totals = deployment_cost_totals(cost).set_index("deployment")
    a = cost[cost["deployment"] == "dep-a"]
    assert totals.loc["dep-a", "jobs"] == 2
    assert totals.loc["dep-a", "total_base_units"] == int(a["total_base_units"].sum())
    assert totals.loc["dep-a", "cost_base_units"] == 43 * 133
    assert totals.loc["dep-a", "fee_base_units"] == 2 * (43 * 3600 // 10)
    assert totals.loc["dep-b", "open_jobs"] == 1
    assert totals.loc["dep-a", "runtime"] == pd.Timedelta(seconds=133)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"now": "2025-01-01"}, "now must be a datetime"),
        ({"timeout": "1h"}, "timeout must be seconds"),
        ({"timeout": float("nan")}, "timeout must be a finite number"),
        ({"timeout": -5}, "timeout must be a positive duration"),
    ],
)
def test_bad_arguments_raise_validation_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        cost_dataframe([job("a", start=START)], [MARKET], **kwargs)


def test_naive_now_is_read_as_utc() -> None:
    naive = cost_dataframe([job("a", start=START)], [MARKET], now=NOW.replace(tzinfo=None))
    aware = cost_dataframe([job("a", start=START)], [MARKET], now=NOW)
    pd.testing.assert_frame_equal(naive, aware)


REAL_SHAPED_MARKET = {
    # a market item as GET /api/markets/ sends it: nodes a list, client a flag, the USD price
    # loosely typed (text here), fields the frames do not know, no on-chain job_price
    "address": "mkt",
    "slug": "nvidia-3060",
    "name": "NVIDIA 3060",
    "sft": "SFT3060aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "type": "PREMIUM",
    "usd_reward_per_hour": "0.0436",
    "nos_reward_per_second": 0.000043,
    "nos_job_price_per_second": 0.000043,
    "network_fee_percentage": 10,
    "premium_community_relation": None,
    "gpu_types": ["RTX 3060"],
    "required_images": [],
    "required_remote_resources": [{"type": "Ollama", "model": "llama3"}],
    "nodes": [{"address": "n1"}, {"address": "n2"}],
    "client": True,
    "lowest_vram": 12,
    "max_usd_uptime_reward_per_day": 1.0464,
    "a_field_from_a_newer_service": {"x": 1},
}


def test_cost_frame_on_a_real_shaped_market() -> None:
    markets = markets_dataframe([REAL_SHAPED_MARKET])
    assert markets["nodes"].iloc[0] == 2
    assert markets["price_base_units_per_second"].iloc[0] == 43
    row = cost_dataframe(
        [job("a", start=START, end=START + 100)], [REAL_SHAPED_MARKET], timeout=600, now=NOW
    ).iloc[0]
    assert row["cost_base_units"] == 4300
    assert row["fee_base_units"] == 43 * 600 // 10
    assert row["usd"] == pytest.approx(0.0436 * 100 / 3600)
