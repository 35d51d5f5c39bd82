"""What a Binder session does once ``binder/start`` has run: runs in the simulated Binder
environment (no pytest, nothing from the checkout), is started by ``binder/start`` through
``exec "$@"``, and prints one JSON line per step for ``test_binder_launch.py`` to read.

    binder/start python binder_session.py NOTEBOOK... --workdir DIR
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

KERNEL_NAME = "binder-python3"


def report(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def write_kernelspec(root: Path) -> Path:
    """A kernelspec for this interpreter only: a user-level ``python3`` spec cannot interfere."""
    spec = root / KERNEL_NAME
    spec.mkdir(parents=True)
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Binder Python 3",
        "language": "python",
    }
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    return root


def check_the_session_sandbox() -> None:
    """binder/start exported the sandbox it serves; connect() attaches to it."""
    import nosana_nb

    report(
        step="environment",
        sandbox_url=os.environ.get("NOSANA_SANDBOX_URL"),
        sandbox_pid=os.environ.get("NOSANA_SANDBOX_PID"),
        package=nosana_nb.__file__,
        prefix=sys.prefix,
    )
    client = nosana_nb.connect()
    report(
        step="attached",
        in_process_sandbox=nosana_nb.current_sandbox() is not None,
        api_url=client.network.api_url,
        now=client.now().isoformat(),
        markets=len(client.markets.list()),
    )
    client.close()


def check_the_server_extensions() -> None:
    """JupyterLab and Voila (the dashboard app at ``/voila/render/...``) are enabled."""
    listed = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)  # no colour codes
    enabled = sorted(set(re.findall(r"^\s*([\w.]+)\s+enabled", text, re.MULTILINE)))
    report(step="extensions", enabled=enabled)


def run_notebook(path: Path, kernels: Path, workdir: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    manager = KernelManager(
        kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)])
    )
    started = time.monotonic()
    runner = NotebookClient(
        notebook,
        km=manager,
        timeout=int(notebook.metadata.get("execution", {}).get("timeout", 300)),
        resources={"metadata": {"path": str(workdir)}},
    )
    try:
        runner.execute()
    except Exception as err:  # the test reads the failure from the report line
        error = f"{type(err).__name__}: {err}"[-3000:]
        report(step="notebook", name=path.name, ok=False, error=error)
        return
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output["output_type"] == "error"
    ]
    report(
        step="notebook",
        name=path.name,
        ok=not errors,
        seconds=round(time.monotonic() - started, 1),
        code_cells=sum(cell.cell_type == "code" for cell in notebook.cells),
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()
    os.chdir(args.workdir)
    check_the_session_sandbox()
    check_the_server_extensions()
    kernels = write_kernelspec(args.workdir / "kernels")
    for path in args.notebooks:
        run_notebook(path, kernels, args.workdir)
    report(step="done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
