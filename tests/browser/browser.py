"""Headless Debian chromium through Python Playwright, and a Voila server for a notebook.

Shared by the chart, export and widget browser tests. Chromium is never skipped silently: when
``/usr/bin/chromium`` is missing the fixtures fail and say how to install it (``make browser``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "build" / "screenshots"
CHROMIUM = os.environ.get("NOSANA_NB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORTS = {"wide": {"width": 1280, "height": 800}, "narrow": {"width": 800, "height": 800}}


def chromium_problem() -> str | None:
    """Why the browser tests cannot run here, or None when chromium is installed."""
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return None
    return (
        f"Debian chromium is not installed at {CHROMIUM}: run `make browser` "
        "(as root: apt-get update && apt-get install -y chromium) or set NOSANA_NB_CHROMIUM"
    )


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def only_local(route: object) -> None:
    """Playwright route handler: let 127.0.0.1/localhost (and local files) through, abort
    everything else."""
    request = route.request  # type: ignore[attr-defined]
    host = httpx.URL(request.url).host
    if request.url.startswith(("data:", "blob:", "file:")) or host in {"127.0.0.1", "localhost"}:
        route.continue_()  # type: ignore[attr-defined]
    else:
        route.abort()  # type: ignore[attr-defined]


@contextmanager
def voila_server(notebook: Path, env: Mapping[str, str], *, timeout: float = 60.0) -> Iterator[str]:
    """Serve ``notebook`` with Voila on a free loopback port; yields the page URL.

    Idle kernels are culled so closed pages leave nothing running; the server is killed on exit.
    """
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--MappingKernelManager.cull_idle_timeout=30",
        "--MappingKernelManager.cull_interval=10",
        "--VoilaConfiguration.file_allowlist=['.*']",
    ]
    # stderr goes to a file: a pipe nobody reads fills up (64 KiB of request logs over a
    # module's page loads) and then blocks the server mid-request
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as log:
        process = subprocess.Popen(
            command,
            cwd=notebook.parent,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"voila exited early: {log.read()[-2000:]}")
                try:
                    if httpx.get(url + "api", timeout=1.0).status_code < 500:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("voila did not start in time")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def dashboard_app(api_url: str, wallet: Any, *, timeout: float = 120.0) -> Iterator[str]:
    """Serve ``notebooks/05_dashboard.ipynb`` with Voila on the sandbox at ``api_url``, signed
    in as ``wallet`` (passed through the environment, as a user would); yields the page URL."""
    env = {
        "NOSANA_NETWORK": "local",
        "NOSANA_API_URL": api_url,
        "NOSANA_WALLET": json.dumps(list(bytes(wallet.keypair_for_signing()))),
    }
    with voila_server(REPO / "notebooks" / "05_dashboard.ipynb", env, timeout=timeout) as url:
        yield url


def fleet_account(sandbox: Any, fleet: Iterable[tuple[str, bool]]) -> Any:
    """A funded account on ``sandbox`` with one Jupyter deployment per ``(name, start)``, made
    in that order (started ones wait for RUNNING); then 90 s for nodes to claim their jobs, so
    there are running jobs, costs and a timeline to draw. The caller closes its client."""
    from nosana_nb.core.jobdef import container_job
    from tests.e2e.conftest import MARKET_3060, open_account

    opened = open_account(sandbox)
    job = container_job("docker.io/nosana/pytorch-jupyter:latest", expose=8888)
    for name, start in fleet:
        deployment = opened.deploy(
            name=name, market=MARKET_3060, timeout=timedelta(hours=2), job_definition=job
        )
        if start:
            deployment.start()
            deployment.wait_until("RUNNING", timeout=10, poll_interval=0.01)
    sandbox.advance(90)
    return opened
