"""The numbered notebooks: each runs top to bottom on the embedded sandbox, shows what it promises,
leaks no key material into its outputs, and is committed without outputs.

Each notebook runs in a fresh kernel of *this* interpreter (a kernelspec written to a temporary
directory, so a user-level ``python3`` kernelspec can never pick another Python), with
``NOSANA_NB_NOTEBOOK_DB=:memory:`` and no ``NOSANA_*`` variables from the caller's environment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode

from nosana_nb.core.wallet import Wallet
from tests.hardening.secret_scan import Needles, scan_text

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = (
    "01_quickstart.ipynb",
    "02_markets_and_costs.ipynb",
    "03_status_history_and_vault.ipynb",
    "05_dashboard.ipynb",
    "07_bulk_operations.ipynb",
)
KERNEL_NAME = "nosana-nb-tests"
# OWNER/REPO in the notebooks is a placeholder until the repository's location is known
BINDER_URL = r"https://mybinder\.org/v2/gh/[\w.-]+/[\w.-]+/HEAD\?urlpath=lab/tree/notebooks/{name}"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# printed by an extra cell run after the notebook, then removed before any output is inspected
SECRET_PROBE = "print('PROBE:' + bytes(client.wallet.keypair_for_signing()).hex())"


@dataclass(frozen=True)
class Executed:
    """A notebook after its run, and the wallet its kernel's client used."""

    notebook: NotebookNode
    wallet: Wallet

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


def _execute(
    path: Path | NotebookNode,
    kernel_dir: Path,
    workdir: Path,
    *,
    notebook_db: str | None = ":memory:",
) -> Executed:
    notebook = _read(path) if isinstance(path, Path) else path
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
    # cleanup_kc: nbclient shuts down only kernels it created itself unless told to
    with runner.setup_kernel(env=_kernel_env(workdir, notebook_db=notebook_db), cleanup_kc=True):
        for index, cell in enumerate(notebook.cells):
            runner.execute_cell(cell, index)
    notebook.cells.pop()
    secret = "".join(o["text"] for o in probe.outputs if o["output_type"] == "stream")
    wallet = Wallet.from_bytes(bytes.fromhex(secret.strip().removeprefix("PROBE:")))
    return Executed(notebook, wallet)


@pytest.fixture(scope="module")
def executed(
    kernel_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Executed]:
    """Runs each notebook once per module; later tests read the same outputs."""
    done: dict[str, Executed] = {}

    def run(name: str) -> Executed:
        if name not in done:
            done[name] = _execute(NOTEBOOKS_DIR / name, kernel_dir, tmp_path_factory.mktemp("nb"))
        return done[name]

    return run


def test_the_numbered_notebooks_are_the_ones_tested() -> None:
    found = tuple(sorted(p.name for p in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")))
    assert found == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom(executed: Callable[[str], Executed], name: str) -> None:
    run = executed(name)  # a cell that raises fails here with its traceback
    code_cells = [c for c in run.notebook.cells if c.cell_type == "code"]
    assert code_cells
    assert all(isinstance(c.execution_count, int) for c in code_cells)
    assert not [o for o in run.outputs() if o["output_type"] == "error"]
    assert "Traceback" not in run.text()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_key_material_in_any_output(executed: Callable[[str], Executed], name: str) -> None:
    run = executed(name)
    saved = _writes(run.notebook)  # the executed notebook as it would be saved
    assert run.wallet.address in saved  # the scan looks at the right notebook
    assert scan_text(saved, Needles.for_wallet(run.wallet), where=name) == []


def test_quickstart_reconciles_the_vault(executed: Callable[[str], Executed]) -> None:
    run = executed("01_quickstart.ipynb")
    text = run.text()
    assert "reconciled: yes" in text
    assert "STOPPED" in text
    # markets, balances, deployment, jobs ×3, events, costs, totals, summary
    assert run.html_tables() >= 8


def test_markets_and_costs_shows_the_table_grid_helper_and_scatter(
    executed: Callable[[str], Executed],
) -> None:
    run = executed("02_markets_and_costs.ipynb")
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


def test_status_history_and_vault_draws_every_figure(executed: Callable[[str], Executed]) -> None:
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
def test_first_cell_explains_environment_and_links_binder(name: str) -> None:
    first = _committed(name).cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith("# ")
    assert re.search(BINDER_URL.format(name=re.escape(name)), first.source)
    for variable in ("NOSANA_NETWORK", "NOSANA_WALLET", "NOSANA_NB_NOTEBOOK_DB"):
        assert variable in first.source


README = NOTEBOOKS_DIR.parent / "README.md"
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


def test_readme_quickstart_then_every_notebook_in_one_data_dir(
    kernel_dir: Path, tmp_path: Path
) -> None:
    """What a new user does: the README quickstart (its jobs keep running in the default
    database), then each shipped notebook in the same data dir, nothing configured. None may
    wait on what the quickstart left behind; each cell has the notebook's timeout."""
    readme = _execute(_readme_quickstart(), kernel_dir, tmp_path, notebook_db=None)
    printed = readme.text()
    assert printed.count(" JobState.RUNNING ") + printed.count(" RUNNING ") >= 3, printed
    assert "at 20" in printed  # the service's time, printed by client.now()
    assert (tmp_path / "xdg-data" / "nosana_nb" / "sandbox.db").exists()
    for name in NOTEBOOKS:
        run = _execute(NOTEBOOKS_DIR / name, kernel_dir, tmp_path, notebook_db=None)
        assert not [o for o in run.outputs() if o["output_type"] == "error"], name


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_setup_is_at_most_five_lines_of_library_calls(name: str) -> None:
    setup = next(c for c in _committed(name).cells if c.cell_type == "code")
    lines = setup.source.strip().splitlines()
    assert len(lines) <= SETUP_LINES_MAX, setup.source
    assert "nosana_nb.notebook_client(" in setup.source
    for helper in ("def now", "def let_time_pass", "NOSANA_NETWORK", "datetime.now"):
        assert helper not in setup.source
