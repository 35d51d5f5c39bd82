"""The badge script's Voila form: ``--app`` opens a notebook as an app on mybinder.org."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "binder_badge.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def test_app_badge_opens_the_notebook_in_voila() -> None:
    result = _run("https://github.com/o/r", "--app", "notebooks/05_dashboard.ipynb")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "[![Binder](https://mybinder.org/badge_logo.svg)]"
        "(https://mybinder.org/v2/gh/o/r/HEAD?urlpath=voila/render/notebooks/05_dashboard.ipynb)"
    )


def test_a_branch_and_a_path_with_spaces_are_quoted() -> None:
    result = _run("https://github.com/o/r", "--ref", "feature/x", "--path", "notebooks/a b.ipynb")
    assert result.returncode == 0, result.stderr
    assert "/v2/gh/o/r/feature%2Fx?urlpath=lab/tree/notebooks/a%20b.ipynb)" in result.stdout


def test_path_and_app_together_are_refused() -> None:
    result = _run("https://github.com/o/r", "--path", "a.ipynb", "--app", "b.ipynb")
    assert result.returncode == 2
    assert "not both" in result.stderr
