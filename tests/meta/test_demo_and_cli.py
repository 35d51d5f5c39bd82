"""`make demo` (nosana_nb.demo) and the `nosana-nb` command."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from nosana_nb import cli, demo


def test_demo_runs_end_to_end_and_reconciles() -> None:
    out = io.StringIO()
    summary = demo.run(out)
    text = out.getvalue()
    assert summary["final_status"] == "STOPPED"
    assert summary["jobs"] == 3
    assert summary["spent_nos"] == summary["paid_to_nodes_nos"] + summary["network_fees_nos"]
    assert summary["network_fees_nos"] > Decimal(0)
    assert summary["spent_nos"] > Decimal(0)
    assert summary["topped_up_nos"] == summary["spent_nos"] + summary["withdrawn_nos"]
    assert summary["vault_nos_left"] == Decimal(0)
    for step in ("created", "started", "scaled to 3 replicas", "JOB_LIST_CONFIRMED", "summary"):
        assert step in text
    assert "reconciled" in text
    assert "(yes, to the base unit)" in text


def test_cli_parses_sandbox_options() -> None:
    args = cli.build_parser().parse_args(
        ["sandbox", "--port", "0", "--speed", "0", "--db", ":memory:", "--seed", "3"]
    )
    assert (args.port, args.speed, args.db, args.seed) == (0, None, ":memory:", 3)
    assert cli.build_parser().parse_args(["sandbox"]).speed == 60.0


@pytest.mark.parametrize(
    "argv",
    [["sandbox", "--port", "70000"], ["sandbox", "--speed", "-1"], ["sandbox", "--speed", "nan"]],
)
def test_cli_refuses_bad_options(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_cli_requires_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main([])
    assert "command" in capsys.readouterr().err
