"""The HTML report of ``make demo``: ``notebooks/01_quickstart.ipynb`` executed on the embedded
sandbox, saved with its outputs and widget state, and exported as one offline page
(interactive Plotly charts, static views of the widgets).

    python -m nosana_nb.demo_report [--out build/demo] [--notebook notebooks/01_quickstart.ipynb]

The notebook runs in a fresh kernel of this interpreter (a kernelspec written to a temporary
directory, so a user's ``python3`` kernelspec can never pick another Python), with no
``NOSANA_*`` variable of the caller's environment: it always runs on a sandbox of its own, with
a fresh demo wallet, never on a real network.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nosana_nb.core.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
DEFAULT_NOTEBOOK = REPO / "notebooks" / "01_quickstart.ipynb"
DEFAULT_OUT = Path("build") / "demo"
KERNEL_NAME = "nosana-nb-demo"
CELL_TIMEOUT_S = 300


@dataclass(frozen=True)
class Report:
    """What the report run wrote and how long it took."""

    html: Path
    notebook: Path
    seconds: float
    figures: int
    widget_views: int


def kernel_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The executing kernel's environment: ``base`` without any ``NOSANA_*`` variable, on an
    in-memory sandbox.

    Args:
        base: the environment to start from (default ``os.environ``).

    Returns:
        A new mapping for the kernel process.
    """
    source = os.environ if base is None else base
    env = {key: value for key, value in source.items() if not key.startswith("NOSANA_")}
    env["NOSANA_NB_NOTEBOOK_DB"] = ":memory:"
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # the debugger's frozen-modules note
    return env


def _write_kernelspec(root: Path) -> None:
    spec = root / KERNEL_NAME
    spec.mkdir(parents=True)
    kernel = {
        # ERROR: the kernel's warnings (a loopback connection without encryption, the parent
        # gone at shutdown) are noise in `make demo`; a failing cell still reports its error
        "argv": [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "--log-level=ERROR",
            "-f",
            "{connection_file}",
        ],
        "display_name": "nosana_nb demo",
        "language": "python",
    }
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")


def build_report(
    notebook: str | os.PathLike[str] = DEFAULT_NOTEBOOK,
    out_dir: str | os.PathLike[str] = DEFAULT_OUT,
    *,
    static_images: bool = True,
) -> Report:
    """Execute ``notebook`` on a sandbox of its own and export it as HTML under ``out_dir``.

    Args:
        notebook: the ``.ipynb`` to run (default: the quickstart).
        out_dir: where ``<name>.ipynb`` (executed, with widget state) and ``<name>.html`` go.
        static_images: also put a PNG of each chart in the page for readers without
            JavaScript (kaleido and chromium; skipped with a note when they are missing).

    Returns:
        The :class:`Report`: both paths, the run time, and what the page holds.

    Raises:
        ConfigError: nbclient, ipykernel or nbconvert is not installed
            (``pip install 'nosana_nb[export]'``).
        nbclient.exceptions.CellExecutionError: a cell of the notebook failed.
    """
    try:
        import nbformat
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import AsyncKernelManager
        from nbclient import NotebookClient

        from nosana_nb.export import export_html
    except ImportError as err:
        raise ConfigError(
            f"the demo report needs nbclient, ipykernel and nbconvert ({err.name} is missing): "
            "pip install 'nosana_nb[export]'"
        ) from err
    source = Path(notebook)
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    executed = target / source.name
    page = target / f"{source.stem}.html"
    nb = nbformat.read(source, as_version=4)  # type: ignore[no-untyped-call]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nosana-nb-demo-") as scratch:
        _write_kernelspec(Path(scratch) / "kernels")
        env = kernel_env()
        env["XDG_DATA_HOME"] = str(Path(scratch) / "data")  # nothing lands in the user's dir
        manager = AsyncKernelManager(
            kernel_name=KERNEL_NAME,
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(Path(scratch) / "kernels")]),
        )
        runner = NotebookClient(
            nb,
            km=manager,
            timeout=CELL_TIMEOUT_S,
            store_widget_state=True,
            resources={"metadata": {"path": str(source.parent.resolve())}},
        )
        runner.execute(env=env)
    seconds = time.perf_counter() - started
    nbformat.write(nb, executed)  # type: ignore[no-untyped-call]
    exported = export_html(executed, page, static_images=static_images)
    return Report(
        html=page.resolve(),
        notebook=executed.resolve(),
        seconds=seconds,
        figures=exported.figures,
        widget_views=exported.widget_views,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nosana_nb.demo_report``: build the report and print where it is.

    Args:
        argv: command-line arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status (0 when the report was written).
    """
    parser = argparse.ArgumentParser(prog="python -m nosana_nb.demo_report", description=__doc__)
    parser.add_argument("--notebook", default=str(DEFAULT_NOTEBOOK), help="the notebook to run")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="the output folder")
    parser.add_argument(
        "--no-static-images", action="store_true", help="skip the PNGs of the charts"
    )
    args = parser.parse_args(argv)
    report = build_report(args.notebook, args.out, static_images=not args.no_static_images)
    print_report(report)
    return 0


def print_report(report: Report) -> None:
    """Print the report's path and figures, for ``make demo``.

    Args:
        report: what :func:`build_report` returned.
    """
    charts = f"{report.figures} interactive chart{'s' if report.figures != 1 else ''}"
    views = f"{report.widget_views} widget view{'s' if report.widget_views != 1 else ''}"
    print(
        f"{report.notebook.name} ran on the embedded sandbox in {report.seconds:.1f} s: "
        f"{charts}, {views}"
    )
    print(f"report: {report.html}")


if __name__ == "__main__":
    sys.exit(main())
