"""A notebook holding the dashboard, saved with its widget state, stays small and keyless.

``notebooks/05_dashboard.ipynb`` runs in a fresh kernel of this interpreter against a sandbox
served by the test (``NOSANA_NETWORK=local``, the wallet in ``NOSANA_WALLET`` as the user would
pass it); extra cells then wait for the data and open every detail tab, so the saved state holds
the loaded table, the figures and the controls — the most a user can save. nbclient records the
widget state like JupyterLab's "save widget state".
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from nosana_nb.core.jobdef import container_job
from nosana_nb.sandbox import SandboxHandle
from tests.e2e.conftest import MARKET_3060, Account, open_account
from tests.hardening.secret_scan import Needles, scan_text

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "05_dashboard.ipynb"
MAX_BYTES = 2 * 1024 * 1024
KERNEL = "nosana-nb-dashboard-tests"
# after the notebook: wait for the data, then open every tab of the first deployment
OPEN_EVERYTHING = """
import time
dashboard.wait(60)
dashboard.table.select(dashboard.table.visible_ids[:1])
for name in ("Overview", "Jobs", "Events", "Tasks", "Status history", "Job timeline", "Cost",
             "Vault", "Controls"):
    dashboard.show_tab(name)
    dashboard.wait(60)
time.sleep(1)  # the last updates reach the notebook's record of the widget state
print("rows:", len(dashboard.table), "tabs loaded:", dashboard.current_tab)
"""


@pytest.fixture(scope="module")
def account(sandbox: SandboxHandle) -> Iterator[Account]:
    opened = open_account(sandbox)
    job = container_job("docker.io/library/nginx:1.27", expose=80)
    for index in range(6):
        deployment = opened.deploy(
            name=f"saved-{index}",
            market=MARKET_3060,
            timeout=timedelta(hours=1),
            job_definition=job,
        )
        if index < 3:
            deployment.start()
    sandbox.advance(120)
    try:
        yield opened
    finally:
        opened.client.close()


def _kernel_dir(root: Path) -> Path:
    spec = root / KERNEL
    spec.mkdir(parents=True)
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "nosana_nb dashboard tests",
        "language": "python",
    }
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def saved(
    sandbox: SandboxHandle, account: Account, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The executed notebook as it would be saved (with widget state), as text."""
    workdir = tmp_path_factory.mktemp("dashboard-notebook")
    notebook: Any = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    extra = nbformat.v4.new_code_cell(OPEN_EVERYTHING)  # type: ignore[no-untyped-call]
    notebook.cells.append(extra)
    secret = json.dumps(list(bytes(account.wallet.keypair_for_signing())))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOSANA_")}
    env.update(
        NOSANA_NETWORK="local",
        NOSANA_API_URL=sandbox.api_url,
        NOSANA_WALLET=secret,
        XDG_DATA_HOME=str(workdir / "xdg"),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    manager = AsyncKernelManager(
        kernel_name=KERNEL,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(_kernel_dir(workdir / "k"))]),
    )
    runner = NotebookClient(
        notebook,
        km=manager,
        timeout=180,
        store_widget_state=True,
        resources={"metadata": {"path": str(workdir)}},
    )
    with runner.setup_kernel(env=env, cleanup_kc=True):
        for index, cell in enumerate(notebook.cells):
            runner.execute_cell(cell, index)
        runner.set_widgets_metadata()
    text: str = nbformat.writes(notebook)  # type: ignore[no-untyped-call]
    (workdir / "saved.ipynb").write_text(text, encoding="utf-8")
    return text


def _states(saved: str) -> dict[str, Any]:
    document = json.loads(saved)
    state: dict[str, Any] = document["metadata"]["widgets"][
        "application/vnd.jupyter.widget-state+json"
    ]["state"]
    return state


def test_the_saved_notebook_holds_the_loaded_dashboard(saved: str, account: Account) -> None:
    states = _states(saved)
    assert "rows: 6 tabs loaded: Controls" in saved
    tables = [s["state"] for s in states.values() if "selected_rows" in s["state"]]
    (table,) = tables  # one ITable, so one copy of its JavaScript
    assert "saved-0" in table["_dt_args"]["data_json"]
    plotly_outputs = saved.count("application/vnd.plotly.v1+json")
    assert plotly_outputs >= 3  # status history, job timeline, cost: static figures
    assert not [s for s in states.values() if "Figure" in s.get("model_name", "")]
    assert account.created[0].id in saved


def test_the_saved_notebook_is_at_most_2_mb(saved: str) -> None:
    size = len(saved.encode("utf-8"))
    assert size <= MAX_BYTES, f"{size / 1e6:.2f} MB"


def test_the_saved_notebook_holds_no_key_material(saved: str, account: Account) -> None:
    assert account.wallet.address in saved  # the scan looks at the right notebook
    assert scan_text(saved, Needles.for_wallet(account.wallet), where="05_dashboard saved") == []
