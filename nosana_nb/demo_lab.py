"""``make lab``: JupyterLab on the notebooks with a sandbox server running beside it.

    python -m nosana_nb.demo_lab [--port 3001] [-- COMMAND ...]

Starts the embedded local Nosana as a server on loopback (an in-memory database, a manual clock:
the notebooks move it with ``nosana_nb.let_time_pass``), sets ``NOSANA_SANDBOX_URL`` so every
notebook's ``nosana_nb.notebook_client()`` attaches to it, runs ``jupyter lab`` in
``notebooks/`` (or COMMAND), and stops the sandbox when that exits or on Ctrl-C. ``NOSANA_*``
variables of the caller that would send the notebooks elsewhere are dropped.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
# variables that would point the notebooks at another network or database than this sandbox
OVERRIDDEN = ("NOSANA_NETWORK", "NOSANA_WALLET", "NOSANA_NB_NOTEBOOK_DB", "NOSANA_SANDBOX_URL")


def lab_env(sandbox_url: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of JupyterLab and its kernels: attached to the sandbox at ``sandbox_url``.

    Args:
        sandbox_url: the running sandbox server's base URL.
        base: the environment to start from (default ``os.environ``).

    Returns:
        A new mapping with ``NOSANA_SANDBOX_URL`` set and the overriding variables dropped.
    """
    source = os.environ if base is None else base
    env = {key: value for key, value in source.items() if key not in OVERRIDDEN}
    env["NOSANA_SANDBOX_URL"] = sandbox_url
    return env


def default_command() -> list[str]:
    """``jupyter lab`` of this interpreter on the notebooks folder, on loopback (``--allow-root``
    when running as root, which JupyterLab otherwise refuses).

    Returns:
        The argv to run.
    """
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--notebook-dir={NOTEBOOKS}",
        "--ServerApp.ip=127.0.0.1",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI run as root; it serves loopback only
    return command


def run_lab(command: Sequence[str], *, port: int = 3001, seed: int = 0) -> int:
    """Serve a sandbox on ``port``, run ``command`` attached to it, stop the sandbox after.

    Args:
        command: the argv to run (``jupyter lab`` by default from the command line).
        port: the sandbox's loopback port (0: any free port).
        seed: seed of the simulated GPU network.

    Returns:
        The command's exit status (130 after Ctrl-C).

    Raises:
        OSError: the port is taken or the command cannot be started.
    """
    from nosana_nb.sandbox import start

    sandbox = start(port=port, db=":memory:", speed=None, seed=seed)
    process: subprocess.Popen[bytes] | None = None
    try:
        print(f"sandbox: {sandbox.api_url} (NOSANA_SANDBOX_URL; manual clock)", flush=True)
        process = subprocess.Popen(list(command), env=lab_env(sandbox.api_url))
        return process.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        sandbox.stop()
        print("sandbox stopped", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nosana_nb.demo_lab``.

    Args:
        argv: ``--port N``, ``--seed N`` and, after ``--``, the command to run instead of
            JupyterLab (default ``sys.argv[1:]``).

    Returns:
        The command's exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m nosana_nb.demo_lab", description=__doc__)
    parser.add_argument("--port", type=int, default=3001, help="the sandbox's port (0: any)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated network")
    parser.add_argument("command", nargs="*", help="run this instead of jupyter lab")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return run_lab(args.command or default_command(), port=args.port, seed=args.seed)


if __name__ == "__main__":
    sys.exit(main())
