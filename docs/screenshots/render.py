"""Render the README's widget screenshots: the real widgets, served by Voila on a sandbox with a
small fleet, photographed by Debian chromium through Playwright (as tests/browser does).

    .venv/bin/python docs/screenshots/render.py      # writes docs/screenshots/*.png

Every request that is not to 127.0.0.1 is blocked, so what you see is what an offline user
sees. Look at each PNG after rendering: this script cannot tell a clipped label from a good one.
The page is tall (2400 px) so that a long widget is photographed whole.

Left out for now: the VaultWidget, whose balance chart draws 0 px high in Voila (the figure is
put into its Output while that is hidden, and plotly keeps the size it measured then).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import nbformat

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.browser.browser import CHROMIUM, CHROMIUM_ARGS, free_port, only_local  # noqa: E402

OUT = Path(__file__).resolve().parent
SETUP = """\
from datetime import timedelta
import nosana_nb
from nosana_nb.widgets import (
    CreateDeploymentForm, DeploymentControls, DeploymentDashboard, MarketExplorer,
)

client = nosana_nb.notebook_client(seed=4)
vault = client.vaults.create()
vault.topup(sol="0.2", nos="60")
job = nosana_nb.container_job("docker.io/nosana/pytorch-jupyter:latest", expose=8888)
made = {}
for name, replicas, start in (("notebook", 2, True), ("batch-train", 1, True), ("draft", 1, False)):
    made[name] = client.deployments.create(
        name=name, market="nvidia-3060", replicas=replicas, timeout=timedelta(hours=2),
        strategy="SIMPLE", job_definition=job,
    )
    if start:
        made[name].start()
nosana_nb.let_time_pass(client, timedelta(minutes=25))
"""
VIEWS = {
    "dashboard": "dashboard = DeploymentDashboard(client)\ndashboard",
    "create_form": (
        'form = CreateDeploymentForm(client, name="train-llm", market="nvidia-3060")\nform'
    ),
    "market_explorer": "MarketExplorer(client, form=form)",
    "controls": 'controls = DeploymentControls(client, made["notebook"])\ncontrols',
}
SHOTS = [
    ("dashboard", "light"),
    ("create_form", "light"),
    ("market_explorer", "light"),
    ("controls", "light"),
    ("dashboard", "dark"),
]


def write_notebook(folder: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(SETUP)]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in VIEWS.values()]
    path = folder / "screenshots.ipynb"
    nbformat.write(notebook, path)
    return path


def serve(notebook: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOSANA_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            str(notebook),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--VoilaConfiguration.allow_theme_override=YES",
            "--MappingKernelManager.cull_idle_timeout=30",
            "--MappingKernelManager.cull_interval=10",
        ],
        cwd=notebook.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "api", timeout=1.0).status_code < 500:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("voila did not start")


def detail(page: Any, dashboard: Any) -> None:
    """The dashboard with a deployment focused and its job timeline open."""
    page.locator("table.dataTable tbody tr", has_text="notebook").first.click()
    page.locator(".lm-TabBar-tab", has_text="Job timeline").first.click()
    panel = page.locator(".widget-tab-contents > .widget-box:visible").first
    panel.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=60_000)
    page.wait_for_timeout(4_000)
    target = OUT / "dashboard_timeline.png"
    dashboard.screenshot(path=str(target))
    print(f"{target.relative_to(REPO)}: {target.stat().st_size // 1024} kB")


def main() -> int:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        process, url = serve(write_notebook(Path(folder)))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for theme in ("light", "dark"):
                    wanted = [view for view, shot_theme in SHOTS if shot_theme == theme]
                    context = browser.new_context(
                        viewport={"width": 1280, "height": 2400}, color_scheme=theme
                    )
                    context.route("**/*", only_local)
                    page = context.new_page()
                    page.goto(f"{url}?theme={theme}", timeout=180_000)
                    page.wait_for_selector("#loading", state="detached", timeout=180_000)
                    page.wait_for_selector("table.dataTable tbody tr", timeout=60_000)
                    page.wait_for_timeout(8_000)  # costs, counts, charts and live state settle
                    outputs = page.locator(".jp-OutputArea-output:has(.jupyter-widgets)")
                    for index, view in enumerate(VIEWS):
                        if view not in wanted:
                            continue
                        name = view if theme == "light" else f"{view}_{theme}"
                        target = OUT / f"{name}.png"
                        output = outputs.nth(index)
                        output.scroll_into_view_if_needed()
                        page.wait_for_timeout(4_000)  # charts draw once they are in view
                        output.screenshot(path=str(target))
                        print(f"{target.relative_to(REPO)}: {target.stat().st_size // 1024} kB")
                    if theme == "light":
                        detail(page, outputs.nth(0))
                    context.close()
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
