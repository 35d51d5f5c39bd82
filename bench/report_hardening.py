"""Print the hardening figures: bad inputs refused before sending, malformed replies handled,
secret leaks found, client attacks from hostile local servers (tried / held), and the attacks on
the embedded sandbox (issue 14, items 5-11) with what was tried and what held. The client figures
run in-process (the attack servers are local sockets); the sandbox attacks run against sandboxes
on 127.0.0.1 (one in its own process), in about half a minute.

    .venv/bin/python bench/report_hardening.py [--notebook] [--no-sandbox]

``--notebook`` also executes and exports the leak-check notebook (needs a Jupyter kernel; ~10 s).
Exit status is 0 only when every figure is clean and every sandbox attack held.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nosana_nb.core.errors import NosanaError
from nosana_nb.core.wallet import Wallet
from tests.core import hostile
from tests.hardening import test_malformed_replies as malformed
from tests.hardening import test_secrets as secrets
from tests.hardening.bad_input_corpus import CORPUS
from tests.hardening.sandbox_report import AttackRow, sandbox_attack_rows
from tests.hardening.secret_scan import scan_texts
from tests.hardening.test_bad_inputs import check_case, names_argument


@dataclass
class BadInputFigures:
    tried: int = 0
    refused_typed: int = 0
    named_argument: int = 0
    requests_sent: int = 0
    known_gaps: int = 0


async def bad_inputs() -> tuple[BadInputFigures, list[str]]:
    figures = BadInputFigures()
    problems = []
    for case in CORPUS:
        for mode in case.modes:
            figures.tried += 1
            raised, sent = await check_case(case, mode)
            figures.requests_sent += sent
            typed = isinstance(raised, case.error) and isinstance(raised, NosanaError)
            if typed and raised is not None:
                figures.refused_typed += 1
                figures.named_argument += names_argument(raised, case.argument)
            elif case.known_gap:
                figures.known_gaps += 1
            else:
                problems.append(f"{mode}-{case.id}: {type(raised).__name__}: {raised}"[:200])
    return figures, problems


async def malformed_replies() -> tuple[int, int, list[str]]:
    tried = handled = 0
    problems = []
    for case_id, run in malformed.iter_all_cases():
        for mode in ("sync", "async"):
            tried += 1
            outcome = await run(mode)
            handled += outcome.handled
            if not outcome.handled:
                problems.append(f"{mode}-{case_id}: {outcome.detail}")
    return tried, handled, problems


def _notebook_texts(wallet: Wallet, folder: Path) -> secrets.Texts:
    import importlib
    import json
    import os

    # untyped packages, loaded only with --notebook
    nbclient = importlib.import_module("nbclient")
    nbconvert = importlib.import_module("nbconvert")
    nbformat = importlib.import_module("nbformat")

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(src) for src in secrets.NOTEBOOK_CELLS]
    os.environ["NOSANA_WALLET"] = json.dumps(list(bytes(wallet.keypair_for_signing())))
    try:
        nbclient.NotebookClient(
            notebook, kernel_name="python3", timeout=90, allow_errors=True
        ).execute()
    finally:
        del os.environ["NOSANA_WALLET"]
    saved = folder / "leak_check.ipynb"
    nbformat.write(notebook, saved)
    html, _ = nbconvert.HTMLExporter().from_notebook_node(notebook)
    return [("saved .ipynb", saved.read_text()), ("exported HTML", html)]


async def leaks(with_notebook: bool) -> tuple[int, int, list[str]]:
    """(texts scanned, needles per text, hits)."""
    wallet = secrets.wallet_with_slash_in_base64()
    needles = secrets.needles_for(wallet)
    with tempfile.TemporaryDirectory() as folder:
        texts: secrets.Texts = []
        for mode in ("sync", "async"):
            session = secrets.Session(mode, wallet, api_key=secrets.API_KEY)
            try:
                texts += secrets.repr_texts(session)
            finally:
                await session.close()
        texts += await secrets.logged_session_texts(wallet)
        texts += secrets.exception_texts(wallet, Path(folder))[0]
        if with_notebook:
            texts += _notebook_texts(wallet, Path(folder))
        hits = scan_texts(texts, needles)
    return len(texts), len(needles), [str(hit) for hit in hits]


# -- client attacks: a hostile or broken server against the user's kernel (issue 14, items 1-4) --


async def client_attacks() -> tuple[list[tuple[str, object]], list[str]]:
    """Each attack of tests/core/hostile.py against the sync and async clients: (rows, problems)."""
    rows: list[tuple[str, object]] = []
    problems = []
    tried = held = 0
    for name, run in hostile.ATTACKS.items():
        for mode in ("sync", "async"):
            tried += 1
            outcome = await run(mode)
            held += outcome.held
            figures = ", ".join(f"{key} {value}" for key, value in outcome.figures.items())
            rows.append((f"  {name} ({mode})", "held" if outcome.held else "FAILED"))
            rows.append((f"    {figures}", ""))
            if not outcome.held:
                problems.append(f"{mode}-{name}: {outcome.detail}")
    return [("client attacks tried", tried), ("  held", held), *rows], problems


def _table(rows: list[tuple[str, object]]) -> str:
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label:<{width}}  {value:>8}" for label, value in rows)


def _attack_table(rows: list[AttackRow]) -> str:
    header = ("item", "attack", "tried", "held", "figures")
    cells = [(str(r.item), r.attack, str(r.tried), str(r.held), r.figures) for r in rows]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(4)]
    lines = []
    for row in [header, *cells]:
        item, attack, tried, held, figures = row
        lines.append(
            f"  {item:>{widths[0]}}  {attack:<{widths[1]}}  {tried:>{widths[2]}}"
            f"  {held:>{widths[3]}}  {figures}"
        )
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", action="store_true", help="also scan an executed notebook")
    parser.add_argument(
        "--no-sandbox", action="store_true", help="skip the attacks on the embedded sandbox"
    )
    args = parser.parse_args(argv)

    bad, bad_problems = await bad_inputs()
    tried, handled, reply_problems = await malformed_replies()
    scanned, needle_count, hits = await leaks(args.notebook)
    attack_rows, attack_problems = await client_attacks()
    rows: list[tuple[str, object]] = [
        ("bad inputs tried (case x client)", bad.tried),
        ("  refused with a typed error", bad.refused_typed),
        ("  error names the argument", bad.named_argument),
        ("  known gaps (documented)", bad.known_gaps),
        ("  requests sent (must be 0)", bad.requests_sent),
        ("malformed replies tried", tried),
        ("  handled (typed error / tolerated)", handled),
        ("texts scanned for secrets", scanned),
        ("  secret encodings per text", needle_count),
        ("  leaks found (must be 0)", len(hits)),
        *attack_rows,
    ]
    print("nosana_nb hardening report")
    print(_table(rows))
    report: list[tuple[str, Callable[[], list[str]]]] = [
        ("bad inputs", lambda: bad_problems),
        ("malformed replies", lambda: reply_problems),
        ("leaks", lambda: hits),
        ("client attacks", lambda: attack_problems),
    ]
    for title, problems in report:
        for line in problems():
            print(f"! {title}: {line}")
    clean = not (bad_problems or reply_problems or hits or bad.requests_sent or attack_problems)
    if not args.no_sandbox:
        attacks = sandbox_attack_rows()
        print("sandbox attacks (issue 14): tried / held")
        print(_attack_table(attacks))
        for row in attacks:
            if row.held != row.tried:
                print(f"! sandbox item {row.item}: {row.attack}: {row.held} of {row.tried} held")
        clean = clean and all(row.held == row.tried for row in attacks)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
