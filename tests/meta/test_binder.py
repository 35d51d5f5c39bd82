"""Binder: pinned requirements equal to what the tests run, a start script that serves one
sandbox for the session, and the badge helper."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"
EXTRA_PINS = ("jupyterlab", "voila", "itables")
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (BINDER / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line == ".":
            continue
        name, sep, pinned = line.partition("==")
        assert sep, f"not an exact pin: {line!r}"
        pins[name.strip().lower()] = pinned.strip()
    return pins


def _runtime_dependencies() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = []
    for spec in project["dependencies"]:
        match = _NAME.match(spec)
        assert match is not None
        names.append(match.group(0).lower())
    return names


def test_binder_pins_every_runtime_dependency_and_the_lab_stack() -> None:
    pins = _pins()
    for name in [*_runtime_dependencies(), *EXTRA_PINS]:
        assert name in pins, f"binder/requirements.txt does not pin {name}"
    lines = (BINDER / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert "." in [line.strip() for line in lines]  # the package itself
    assert (BINDER / "runtime.txt").read_text(encoding="utf-8").strip() == "python-3.11"


def test_binder_pins_equal_the_versions_the_tests_run() -> None:
    mismatched = {
        name: (pinned, version(name)) for name, pinned in _pins().items() if version(name) != pinned
    }
    assert mismatched == {}, "pinned vs installed: " + repr(mismatched)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


ATTACHED = """
import os, nosana_nb
client = nosana_nb.connect()
assert nosana_nb.current_sandbox() is None, "started a sandbox instead of attaching"
print(os.environ["NOSANA_SANDBOX_URL"], os.environ["NOSANA_SANDBOX_PID"], client.network.api_url)
print("now", client.now().isoformat())
"""


def test_binder_start_serves_one_sandbox_and_connect_attaches(tmp_path: Path) -> None:
    start = BINDER / "start"
    assert os.access(start, os.X_OK)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOSANA_")}
    env.update(
        HOME=str(tmp_path),
        XDG_DATA_HOME=str(tmp_path / "xdg"),
        NOSANA_SANDBOX_PORT=str(port),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    result = subprocess.run(
        [str(start), sys.executable, "-c", ATTACHED],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    first = result.stdout.splitlines()[0].split() if result.stdout else []
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        url, _, api_url = first
        assert url == api_url == f"http://127.0.0.1:{port}"
        assert "now 20" in result.stdout
        assert (tmp_path / ".nosana-sandbox.db").exists()
    finally:
        if len(first) == 3:
            os.kill(int(first[1]), signal.SIGTERM)  # the sandbox the script started


def test_badge_script_prints_markdown_for_a_repository() -> None:
    script = ROOT / "scripts" / "binder_badge.py"
    result = subprocess.run(
        [sys.executable, str(script), "https://github.com/nosana-ci/nosana_nb.git"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip() == (
        "[![Binder](https://mybinder.org/badge_logo.svg)]"
        "(https://mybinder.org/v2/gh/nosana-ci/nosana_nb/HEAD?urlpath=lab)"
    )
    with_path = subprocess.run(
        [sys.executable, str(script), "https://github.com/o/r", "--path", "notebooks/01_q.ipynb"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "/v2/gh/o/r/HEAD?urlpath=lab/tree/notebooks/01_q.ipynb)" in with_path.stdout


@pytest.mark.parametrize("url", ["https://gitlab.com/o/r", "not a url", "https://github.com/o"])
def test_badge_script_refuses_what_is_not_a_github_repository(url: str) -> None:
    script = ROOT / "scripts" / "binder_badge.py"
    result = subprocess.run(
        [sys.executable, str(script), url], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert "not a GitHub repository URL" in result.stderr
