"""The shipped notebooks (every ``notebooks/*.ipynb``, found by glob so notebooks added later are
tested too): each runs top to bottom on the embedded sandbox in under a minute, plain and with
``nest_asyncio.apply()`` injected as its first code cell, shows what it promises, leaks no key
material into its outputs, and is committed stripped.

Each run uses a fresh kernel of *this* interpreter (a kernelspec written to a temporary
directory, so a user-level ``python3`` kernelspec can never pick another Python), with no
``NOSANA_*`` variables from the caller's environment. The plain runs set
``NOSANA_NB_NOTEBOOK_DB=:memory:``; the nest_asyncio runs leave it unset, in the data dir where
the README quickstart ran first, as a new user would. Run times go to
``build/notebook-times.json``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode

from nosana_nb.core.wallet import Wallet
from tests.hardening.secret_scan import Needles, scan_text

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO / "notebooks"
NOTEBOOKS = tuple(sorted(path.name for path in NOTEBOOKS_DIR.glob("*.ipynb")))
KERNEL_NAME = "nosana-nb-tests"
MODES = ("plain", "nest_asyncio")
NEST_ASYNCIO_CELL = "import nest_asyncio\n\nnest_asyncio.apply()"
RUN_TIME_LIMIT_S = 60.0  # each notebook, kernel start included (the "under a minute")
TIMES_FILE = REPO / "build" / "notebook-times.json"
ENV_VARIABLES = ("NOSANA_NETWORK", "NOSANA_WALLET", "NOSANA_NB_NOTEBOOK_DB", "NOSANA_SANDBOX_URL")
PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# printed by an extra cell run after the notebook, then removed before any output is inspected
SECRET_PROBE = "print('PROBE:' + bytes(client.wallet.keypair_for_signing()).hex())"


@dataclass(frozen=True)
class Executed:
    """A notebook after its run, and the wallet its kernel's client used."""

    notebook: NotebookNode
    wallet: Wallet
    seconds: float = 0.0

    def outputs(self) -> Iterator[dict[str, Any]]:
        for cell in self.notebook.cells:
            if cell.cell_type == "code":
                yield from cell.outputs

    def text(self) -> str:
        """Every stream and text/plain output, in order."""
        parts: list[str] = []
        for output in self.outputs():
            if output["output_type"] == "stream":
                parts.append(output["text"])
            elif "data" in output:
                parts.append(output["data"].get("text/plain", ""))
        return "\n".join(parts)

    def html_tables(self) -> int:
        return sum(
            "<table" in output.get("data", {}).get("text/html", "") for output in self.outputs()
        )

    def has_output(self, mime: str) -> bool:
        return any(mime in output.get("data", {}) for output in self.outputs())

    def figure_titles(self) -> list[str]:
        titles: list[str] = []
        for output in self.outputs():
            figure = output.get("data", {}).get(PLOTLY_MIME)
            if figure is not None:
                title = figure.get("layout", {}).get("title", {})
                titles.append(title.get("text", "") if isinstance(title, dict) else str(title))
        return titles


# nbformat's functions are untyped: these wrappers keep the ignores in one place
def _read(path: Path) -> NotebookNode:
    notebook: NotebookNode = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    return notebook


def _writes(notebook: NotebookNode) -> str:
    text: str = nbformat.writes(notebook)  # type: ignore[no-untyped-call]
    return text


def _code_cell(source: str) -> NotebookNode:
    cell: NotebookNode = nbformat.v4.new_code_cell(source)  # type: ignore[no-untyped-call]
    return cell


def _committed(name: str) -> NotebookNode:
    return _read(NOTEBOOKS_DIR / name)


def write_kernelspec(root: Path) -> Path:
    """A kernelspec for this interpreter under ``root``, for ``_execute``; returns ``root``."""
    spec = root / KERNEL_NAME
    spec.mkdir()
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "nosana_nb tests",
        "language": "python",
    }
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_kernelspec(tmp_path_factory.mktemp("kernels"))


def _kernel_env(workdir: Path, *, notebook_db: str | None = ":memory:") -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOSANA_")}
    env.update(
        XDG_DATA_HOME=str(workdir / "xdg-data"),  # nothing lands in the user's data dir
        PYDEVD_DISABLE_FILE_VALIDATION="1",  # keeps the debugger's frozen-modules note quiet
    )
    if notebook_db is not None:
        env["NOSANA_NB_NOTEBOOK_DB"] = notebook_db
    return env


def with_nest_asyncio(notebook: NotebookNode) -> NotebookNode:
    """``notebook`` with ``nest_asyncio.apply()`` as its first code cell, as many users have."""
    first_code = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code")
    notebook.cells.insert(first_code, _code_cell(NEST_ASYNCIO_CELL))
    return notebook


def _execute(
    path: Path | NotebookNode,
    kernel_dir: Path,
    workdir: Path,
    *,
    notebook_db: str | None = ":memory:",
    nest_asyncio: bool = False,
) -> Executed:
    notebook = _read(path) if isinstance(path, Path) else path
    if nest_asyncio:
        notebook = with_nest_asyncio(notebook)
    manager = AsyncKernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]),
    )
    runner = NotebookClient(
        notebook,
        km=manager,
        timeout=int(notebook.metadata["execution"]["timeout"]),
        resources={"metadata": {"path": str(workdir)}},
    )
    probe = _code_cell(SECRET_PROBE)
    notebook.cells.append(probe)
    started = time.perf_counter()
    # cleanup_kc: nbclient shuts down only kernels it created itself unless told to
    with runner.setup_kernel(env=_kernel_env(workdir, notebook_db=notebook_db), cleanup_kc=True):
        for index, cell in enumerate(notebook.cells[:-1]):
            runner.execute_cell(cell, index)
        seconds = time.perf_counter() - started
        runner.execute_cell(probe, len(notebook.cells) - 1)
    notebook.cells.pop()
    secret = "".join(o["text"] for o in probe.outputs if o["output_type"] == "stream")
    wallet = Wallet.from_bytes(bytes.fromhex(secret.strip().removeprefix("PROBE:")))
    return Executed(notebook, wallet, seconds)


README = REPO / "README.md"
README_TIMEOUT_S = 120
SETUP_LINES_MAX = 5


def _readme_quickstart() -> NotebookNode:
    """The README's quickstart code as a one-cell notebook, with the shipped cell timeout."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Quickstart") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the README's quickstart has no python block"
    notebook: NotebookNode = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    notebook.cells.append(_code_cell(match.group(1)))
    notebook.metadata["execution"] = {"timeout": README_TIMEOUT_S}
    return notebook


@dataclass
class UserDataDir:
    """One data dir, as a new user has: the README quickstart ran there first (its jobs keep
    running in the default database), then the notebooks run in it with nothing configured."""

    path: Path
    readme: Executed | None = None
    readme_error: BaseException | None = None


@pytest.fixture(scope="module")
def user_data_dir(kernel_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> UserDataDir:
    found = UserDataDir(tmp_path_factory.mktemp("user"))
    try:
        found.readme = _execute(_readme_quickstart(), kernel_dir, found.path, notebook_db=None)
    except Exception as err:  # reported by the README test; the notebooks still run here
        found.readme_error = err
    return found


@pytest.fixture(scope="module")
def executed(
    kernel_dir: Path, tmp_path_factory: pytest.TempPathFactory, user_data_dir: UserDataDir
) -> Iterator[Callable[..., Executed]]:
    """Runs each notebook once per mode and module; later tests read the same outputs.

    ``plain``: its own :memory: sandbox. ``nest_asyncio``: ``nest_asyncio.apply()`` first, no
    ``NOSANA_NB_NOTEBOOK_DB``, in the data dir the README quickstart used.
    """
    done: dict[tuple[str, str], Executed] = {}

    def run(name: str, mode: str = "plain") -> Executed:
        if (name, mode) not in done:
            if mode == "plain":
                result = _execute(NOTEBOOKS_DIR / name, kernel_dir, tmp_path_factory.mktemp("nb"))
            else:
                result = _execute(
                    NOTEBOOKS_DIR / name,
                    kernel_dir,
                    user_data_dir.path,
                    notebook_db=None,
                    nest_asyncio=True,
                )
            done[(name, mode)] = result
        return done[(name, mode)]

    yield run
    if done:  # the figures the closing note reports
        TIMES_FILE.parent.mkdir(parents=True, exist_ok=True)
        times = {f"{name} ({mode})": round(run.seconds, 1) for (name, mode), run in done.items()}
        TIMES_FILE.write_text(json.dumps(times, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def test_the_notebooks_are_numbered_and_found() -> None:
    assert "01_quickstart.ipynb" in NOTEBOOKS
    for name in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", name), name
    numbers = [name[:2] for name in NOTEBOOKS]
    assert len(set(numbers)) == len(numbers), "two notebooks share a number"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom_in_under_a_minute(
    executed: Callable[..., Executed], name: str, mode: str
) -> None:
    run = executed(name, mode)  # a cell that raises fails here with its traceback
    code_cells = [c for c in run.notebook.cells if c.cell_type == "code"]
    assert code_cells
    assert all(isinstance(c.execution_count, int) for c in code_cells)
    assert not [o for o in run.outputs() if o["output_type"] == "error"]
    assert "Traceback" not in run.text()
    if mode == "nest_asyncio":
        assert code_cells[0].source == NEST_ASYNCIO_CELL
    assert run.seconds < RUN_TIME_LIMIT_S, f"{name} ({mode}) took {run.seconds:.1f} s"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_key_material_in_any_output(
    executed: Callable[..., Executed], name: str, mode: str
) -> None:
    run = executed(name, mode)
    saved = _writes(run.notebook)  # the executed notebook as it would be saved
    assert run.wallet.address in saved  # the scan looks at the right notebook
    assert scan_text(saved, Needles.for_wallet(run.wallet), where=name) == []


def test_quickstart_reconciles_the_vault_and_draws_charts_and_a_widget(
    executed: Callable[..., Executed],
) -> None:
    run = executed("01_quickstart.ipynb")
    text = run.text()
    assert "reconciled: yes" in text
    assert "STOPPED" in text
    # markets, balances, deployment, jobs ×3, events, costs, totals, summary
    assert run.html_tables() >= 8
    assert run.figure_titles() == ["Jobs per replica slot", "Cumulative spend per deployment"]
    assert run.has_output(WIDGET_MIME)  # the vault widget


def test_forms_and_dashboard_creates_controls_and_bulk_stops(
    executed: Callable[..., Executed],
) -> None:
    run = executed("02_forms_and_dashboard.ipynb")
    text = run.text()
    assert re.search(r"top-up sent: \w{80,}; vault now holds 40(\.0+)? NOS", text), text
    assert re.search(r"created \w{32,44} \(forms-demo\): (STARTING|RUNNING)", text), text
    assert "RUNNING, replicas 3" in text  # scaled through the controls
    assert "Stop: 3 deployments; 1 refused" in text  # the bulk dry run, confirmed first
    assert "refuses web-draft (DRAFT): stop needs the deployment" in text
    for name in ("forms-demo", "web-a", "web-b"):
        assert f"{name}: now STOPPING" in text or f"{name}: now STOPPED" in text, text
    assert re.search(r"web-draft\s+DRAFT", text), text
    assert len(re.findall(r"\sSTOPPED\s", text)) >= 3, text  # the final table
    assert "withdrew the rest:" in text
    views = [o for o in run.outputs() if WIDGET_MIME in o.get("data", {})]
    assert len(views) == 4  # vault, form, controls, dashboard


def test_markets_and_costs_shows_the_table_grid_helper_and_scatter(
    executed: Callable[..., Executed],
) -> None:
    run = executed("04_markets_and_costs.ipynb")
    text = run.text()
    for column in (
        "usd_per_hour",
        "usd_per_hour_with_fee",
        "nos_per_hour",
        "nos_per_hour_with_fee",
    ):
        assert column in text
    assert "cheapest that fits:" in text
    assert "no market fits" in text  # the helper also says so when nothing fits
    assert run.figure_titles() == ["Price per hour vs GPU memory (fee included)"]


def test_status_history_and_vault_draws_every_figure(executed: Callable[..., Executed]) -> None:
    run = executed("03_status_history_and_vault.ipynb")
    titles = run.figure_titles()
    for title in (
        "Deployment status over time",
        "Jobs per replica slot",
        "Vault balance",
        "Cumulative spend per deployment",
    ):
        assert title in titles
    assert run.has_output(WIDGET_MIME)  # the live status figure
    text = run.text()
    assert "runway:" in text
    assert "cost check: yes" in text
    assert "STOPPED" in text


def test_bulk_operations_previews_then_runs_what_it_predicted(
    executed: Callable[[str], Executed],
) -> None:
    run = executed("07_bulk_operations.ipynb")
    text = run.text()
    assert "Start: 10 ok." in text
    assert "Stop: 10 deployments; 2 refused" in text  # the dry run: two drafts refuse stop
    assert "Stop: 10 ok, 2 refused." in text  # the real run did exactly that
    assert "the dry run predicted every row: yes" in text
    assert "ActionNotAllowedError" in text
    assert text.count("-> ValidationError(") == 4
    assert run.html_tables() >= 4  # targets, preview, results, withdraw preview


def test_logs_results_and_countdowns_read_every_ended_job(
    executed: Callable[[str], Executed],
) -> None:
    run = executed("08_logs_results_and_countdowns.ipynb")
    text = run.text()
    counts = re.search(r"(\d+) log lines, (\d+) error lines in (\d+) jobs", text)
    assert counts is not None, text
    lines, errors, failed_jobs = (int(g) for g in counts.groups())
    assert lines > errors > 0  # seeded: some of the sweep's jobs fail
    assert failed_jobs > 0
    assert re.search(r"failed\s+" + str(failed_jobs) + r"\b", text), text  # results agree
    assert run.figure_titles() == ["Errors over time"]
    assert "2026-12-06 02:00:00+00:00" in text  # the nightly's next run, from its cron
    remaining = re.search(r"serve has 0 days 00:(\d\d):\d\d", text)
    assert remaining is not None, text
    assert 44 <= int(remaining.group(1)) <= 45, text


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_is_stripped(name: str) -> None:
    notebook = _committed(name)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a code cell has outputs"
            assert cell.execution_count is None, f"{name}: a code cell has an execution count"
    assert "widgets" not in notebook.metadata
    timeout = notebook.metadata["execution"]["timeout"]
    assert isinstance(timeout, int)
    assert 0 < timeout <= 300


def test_nbstripout_verify_passes() -> None:
    paths = [str(NOTEBOOKS_DIR / name) for name in NOTEBOOKS]
    result = subprocess.run(
        [sys.executable, "-m", "nbstripout", "--verify", *paths],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_first_cell_says_which_environment_variables_it_reads(name: str) -> None:
    first = _committed(name).cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith("# ")
    for variable in ENV_VARIABLES:
        assert f"`{variable}`" in first.source, variable
    assert ":memory:" in first.source  # NOSANA_NB_NOTEBOOK_DB's real default


# a JSON byte array of 64 numbers (a Solana keypair), or base58 text of a secret key's length
KEY_ARRAY = re.compile(r"\[\s*(\d{1,3}\s*,\s*){63}\d{1,3}\s*\]")
KEY_BASE58 = re.compile(
    r"(?<![1-9A-HJ-NP-Za-km-z])[1-9A-HJ-NP-Za-km-z]{85,90}(?![1-9A-HJ-NP-Za-km-z])"
)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_placeholder_badge_or_embedded_key(name: str) -> None:
    text = (NOTEBOOKS_DIR / name).read_text(encoding="utf-8")
    assert "OWNER/REPO" not in text
    assert "mybinder.org/badge" not in text  # no badge until the repository has a public home
    assert not KEY_ARRAY.search(text)
    assert not KEY_BASE58.search(text)


def test_readme_quickstart_leaves_nothing_that_blocks_the_notebooks(
    user_data_dir: UserDataDir, executed: Callable[..., Executed]
) -> None:
    """What a new user does: the README quickstart (its jobs keep running in the default
    database), then each shipped notebook in the same data dir, nothing configured (the
    nest_asyncio runs). None may wait on what the quickstart left behind."""
    if user_data_dir.readme_error is not None:
        raise user_data_dir.readme_error
    assert user_data_dir.readme is not None
    printed = user_data_dir.readme.text()
    assert printed.count(" JobState.RUNNING ") + printed.count(" RUNNING ") >= 3, printed
    assert "at 20" in printed  # the service's time, printed by client.now()
    assert (user_data_dir.path / "xdg-data" / "nosana_nb" / "sandbox.db").exists()
    for name in NOTEBOOKS:
        run = executed(name, "nest_asyncio")
        assert not [o for o in run.outputs() if o["output_type"] == "error"], name


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_setup_is_at_most_five_lines_of_library_calls(name: str) -> None:
    setup = next(c for c in _committed(name).cells if c.cell_type == "code")
    lines = setup.source.strip().splitlines()
    assert len(lines) <= SETUP_LINES_MAX, setup.source
    assert "nosana_nb.notebook_client(" in setup.source
    for helper in ("def now", "def let_time_pass", "NOSANA_NETWORK", "datetime.now"):
        assert helper not in setup.source


# --- the async client under a notebook's loop and under asyncio.run ------------------------

ASYNC_CELLS = (
    "import nosana_nb\n\n"
    'client = nosana_nb.connect(db=":memory:", speed=None, seed=5, asynchronous=True)',
    # top-level await: the kernel's own running loop
    "markets = await client.markets.list()\n"
    "vault = await client.vaults.create()\n"
    'await vault.topup(sol="0.01", nos="1")\n'
    "balance = await vault.get_balance()\n"
    'print(f"markets: {len(markets)}; vault NOS: {balance.nos}")',
    "await client.aclose()\nnosana_nb.stop_sandbox()",
)

ASYNC_SCRIPT = """
import asyncio
{prelude}
import nosana_nb


async def main() -> None:
    client = nosana_nb.connect(db=":memory:", speed=None, seed=5, asynchronous=True)
    async with client:
        markets = await client.markets.list()
        vault = await client.vaults.create()
        await vault.topup(sol="0.01", nos="1")
        balance = await vault.get_balance()
        print(f"markets: {{len(markets)}}; vault NOS: {{balance.nos}}")


asyncio.run(main())
nosana_nb.stop_sandbox()
"""


@pytest.mark.parametrize("mode", MODES)
def test_async_client_under_top_level_await_in_a_cell(
    kernel_dir: Path, tmp_path: Path, mode: str
) -> None:
    notebook: NotebookNode = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    notebook.cells.extend(_code_cell(source) for source in ASYNC_CELLS)
    notebook.metadata["execution"] = {"timeout": 120}
    run = _execute(notebook, kernel_dir, tmp_path, nest_asyncio=mode == "nest_asyncio")
    assert not [o for o in run.outputs() if o["output_type"] == "error"], run.text()
    assert re.search(r"markets: [1-9]\d*; vault NOS: 1(\.0+)?\b", run.text()), run.text()


@pytest.mark.parametrize("mode", MODES)
def test_async_client_under_asyncio_run_in_a_script(tmp_path: Path, mode: str) -> None:
    prelude = "import nest_asyncio\nnest_asyncio.apply()" if mode == "nest_asyncio" else ""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(ASYNC_SCRIPT.format(prelude=prelude)), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=_kernel_env(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"markets: [1-9]\d*; vault NOS: 1(\.0+)?\b", result.stdout), result.stdout


def test_notebook_client_attaches_to_the_sandbox_of_nosana_sandbox_url(tmp_path: Path) -> None:
    """``make lab`` (and Binder) run one sandbox server and set NOSANA_SANDBOX_URL: a notebook's
    setup line attaches to it when the server's clock runs as the notebook needs (its
    ``speed``), else it starts a sandbox of its own; NOSANA_NB_NOTEBOOK_DB, when set, wins."""
    from nosana_nb import current_sandbox, notebook_client, stop_sandbox
    from nosana_nb.sandbox import start

    server = start(db=":memory:", speed=None, seed=1)
    try:
        env = {"NOSANA_SANDBOX_URL": server.api_url, "XDG_DATA_HOME": str(tmp_path)}
        attached = notebook_client(seed=9, env=env)  # manual clock asked, manual clock served
        try:
            assert attached.network.name == "local"
            assert attached.network.api_url == server.api_url
            assert attached.markets.list()
            assert current_sandbox() is None  # nothing started in this process
        finally:
            attached.close()
        live = notebook_client(speed=60, env=env)  # the dashboard's running clock: its own
        try:
            assert live.network.api_url != server.api_url
            own = current_sandbox()
            assert own is not None
            assert own.clock.speed == 60
        finally:
            live.close()
            stop_sandbox()
        chosen = notebook_client(env={**env, "NOSANA_NB_NOTEBOOK_DB": ":memory:"})
        try:
            assert chosen.network.api_url != server.api_url
        finally:
            chosen.close()
            stop_sandbox()
    finally:
        server.stop()


# --- make lab: a sandbox server beside the command, stopped when it exits --------------------

LAB_COMMAND = (sys.executable, "-m", "nosana_nb.demo_lab", "--port", "0", "--")
LAB_PROBE = """
import os, httpx, nosana_nb
url = os.environ["NOSANA_SANDBOX_URL"]
client = nosana_nb.notebook_client()
print("attached:", client.network.api_url == url, "markets:", len(client.markets.list()))
print("network env:", os.environ.get("NOSANA_NETWORK"), os.environ.get("NOSANA_NB_NOTEBOOK_DB"))
print("url:", url)
client.close()
"""


def test_make_lab_serves_a_sandbox_the_notebooks_attach_to_and_stops_it(tmp_path: Path) -> None:
    env = _kernel_env(tmp_path, notebook_db=":memory:")  # dropped by the lab runner
    env["NOSANA_NETWORK"] = "devnet"  # likewise: `make lab` always runs on its sandbox
    result = subprocess.run(
        [*LAB_COMMAND, sys.executable, "-c", LAB_PROBE],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"attached: True markets: [1-9]", result.stdout), result.stdout
    assert "network env: None None" in result.stdout
    assert result.stdout.rstrip().endswith("sandbox stopped")
    match = re.search(r"^url: (\S+)$", result.stdout, re.MULTILINE)
    assert match is not None
    with pytest.raises(httpx.TransportError):  # the server is gone with the command
        httpx.get(f"{match.group(1)}/_sandbox/info", timeout=5)


def test_make_lab_has_the_command() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    phony = next(line for line in makefile.splitlines() if line.startswith(".PHONY: browser"))
    assert " lab " in f"{phony} "
    assert "\nlab: install\n\t$(BIN)/python -m nosana_nb.demo_lab" in makefile
