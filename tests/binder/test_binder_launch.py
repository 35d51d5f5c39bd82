"""A Binder launch, simulated: a fresh virtual environment from ``binder/requirements.txt``
alone (installed from a copy of the repository's files, as repo2docker installs a clone), then
``binder/start`` with the session command, which executes every ``notebooks/*.ipynb`` in a
kernel of that environment from a working directory outside the repository.

Slow by nature (an environment is installed): it prints its phases' durations (``-s``)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SESSION = Path(__file__).with_name("binder_session.py")
INSTALL_TIMEOUT_S = 900
SESSION_TIMEOUT_S = 900


def _repository_copy(target: Path) -> Path:
    """The files a clone would have: tracked plus untracked-but-not-ignored (work in progress)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a deleted-but-tracked file is absent
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _binder_env(venv: Path, home: Path, port: int) -> dict[str, str]:
    """A Binder container's environment: the image's Python first on PATH, nothing of ours."""
    outer_bin = str(Path(sys.executable).parent)
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != outer_bin]
    dropped = ("NOSANA_", "VIRTUAL_ENV", "PYTHON", "JUPYTER", "XDG_", "PYTEST", "IPYTHONDIR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(
        HOME=str(home),
        PATH=os.pathsep.join([str(venv / "bin"), *path]),
        NOSANA_SANDBOX_PORT=str(port),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    return env


def _install(venv: Path, checkout: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    result = subprocess.run(
        # --no-compile: byte-compiling every installed module took 27 of the install's 47 s;
        # what is checked (the pins resolve and install, the notebooks run) does not change
        [
            *(str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile"),
            *("-r", "binder/requirements.txt"),
        ],
        cwd=checkout,  # repo2docker installs from the clone's root: "." is the package
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, (
        "pip install -r binder/requirements.txt failed:\n" + (result.stdout + result.stderr)[-4000:]
    )


def _reports(stdout: str) -> list[dict[str, Any]]:
    found = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT_S + SESSION_TIMEOUT_S + 120)
def test_a_binder_launch_runs_every_notebook(tmp_path: Path) -> None:
    checkout = _repository_copy(tmp_path / "repo")
    notebooks = sorted((checkout / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks/*.ipynb to run"
    venv, home, workdir = tmp_path / "venv", tmp_path / "home", tmp_path / "session"
    home.mkdir()
    workdir.mkdir()

    began = time.monotonic()
    _install(venv, checkout)
    installed = time.monotonic()

    port = _free_port()
    session = subprocess.run(
        [
            str(checkout / "binder" / "start"),
            str(venv / "bin" / "python"),
            str(SESSION),
            *map(str, notebooks),
            "--workdir",
            str(workdir),
        ],
        cwd=workdir,
        env=_binder_env(venv, home, port),
        capture_output=True,
        text=True,
        timeout=SESSION_TIMEOUT_S,
        check=False,
    )
    ran = time.monotonic()
    reports = _reports(session.stdout)
    environment = next((r for r in reports if r["step"] == "environment"), None)
    try:
        log = home / ".nosana-sandbox.log"
        detail = session.stdout + session.stderr[-4000:]
        detail += log.read_text(encoding="utf-8")[-2000:] if log.exists() else ""
        assert session.returncode == 0, detail
        assert environment is not None, detail
        # the package the kernels use is the one installed into the Binder environment
        assert Path(environment["package"]).is_relative_to(venv), environment
        assert environment["sandbox_url"] == f"http://127.0.0.1:{port}"
        attached = next(r for r in reports if r["step"] == "attached")
        assert attached["in_process_sandbox"] is False  # connect() used the session's sandbox
        assert attached["api_url"] == environment["sandbox_url"]
        assert attached["markets"] > 0
        extensions = next(r for r in reports if r["step"] == "extensions")["enabled"]
        assert {"jupyterlab", "voila.server_extension"} <= set(extensions), extensions
        runs = {r["name"]: r for r in reports if r["step"] == "notebook"}
        assert sorted(runs) == [p.name for p in notebooks]
        failed = {name: r.get("error", "an error output") for name, r in runs.items()}
        failed = {name: why for name, why in failed.items() if not runs[name]["ok"]}
        assert failed == {}, failed
        assert reports[-1]["step"] == "done"
    finally:
        if environment is not None and environment.get("sandbox_pid"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(environment["sandbox_pid"]), signal.SIGTERM)
    timings = ", ".join(f"{name} {r['seconds']} s" for name, r in runs.items())
    print(
        f"\nbinder launch: install {installed - began:.0f} s, start + notebooks "
        f"{ran - installed:.0f} s ({timings}), total {ran - began:.0f} s"
    )


def test_binder_start_fails_loudly_when_the_sandbox_cannot_start(tmp_path: Path) -> None:
    """No ``nosana-nb`` on PATH (a requirements.txt without the package): start says so and
    does not run the session command."""
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    (empty_bin / "python").symlink_to(python)
    env = {
        "HOME": str(tmp_path),
        "PATH": f"{empty_bin}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "NOSANA_SANDBOX_PORT": str(_free_port()),
    }
    marker = tmp_path / "session-ran"
    result = subprocess.run(
        [str(ROOT / "binder" / "start"), "touch", str(marker)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert not marker.exists()
    assert "binder/start" in result.stderr  # says what failed and where its log is
