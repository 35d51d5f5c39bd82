"""The README cannot rot: every ```python block runs, in order, in one namespace (as a reader
would paste them into one notebook), against the embedded sandbox, in a fresh process with a
data directory of its own and no NOSANA_* variables from the caller. Its pictures exist and it
has no placeholder Binder badge."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
# run by the child: each block in turn, one namespace, a marker before each so a failure names
# its block
RUNNER = """
import json, sys, traceback
blocks = json.load(open(sys.argv[1], encoding="utf-8"))
namespace = {"__name__": "__main__"}
for index, (line, source) in enumerate(blocks, 1):
    print(f"=== block {index} (README.md line {line})", flush=True)
    try:
        exec(compile(source, f"README.md:{line}", "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        print(f"FAILED: block {index} at README.md line {line}", flush=True)
        sys.exit(1)
print("ALL BLOCKS RAN", flush=True)
"""


def python_blocks(text: str) -> list[tuple[int, str]]:
    """Each ```python block of ``text`` with the line number its code starts on."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in BLOCK.finditer(text)]


def test_the_block_parser_finds_blocks_and_their_lines() -> None:
    text = "# t\n\n```python\nx = 1\n```\n\n```bash\nls\n```\n```python\ny = 2\n```\n"
    assert python_blocks(text) == [(4, "x = 1\n"), (11, "y = 2\n")]


@pytest.mark.timeout(600)
def test_every_python_block_of_the_readme_runs(tmp_path: Path) -> None:
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 10, "the README lost its examples"
    source = tmp_path / "blocks.json"
    source.write_text(json.dumps(blocks), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOSANA_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")  # connect()'s database and demo wallet
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(source)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "ALL BLOCKS RAN" in result.stdout
    assert result.stdout.count("=== block") == len(blocks)


def test_readme_pictures_exist_and_are_small() -> None:
    text = README.read_text(encoding="utf-8")
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert pictures, "the README shows no screenshot"
    for picture in pictures:
        path = ROOT / picture
        assert path.is_file(), f"README links a missing picture: {picture}"
        assert path.stat().st_size < 400_000, f"{picture} is over 400 kB"


def test_readme_has_no_placeholder_badge_and_says_how_to_make_one() -> None:
    text = README.read_text(encoding="utf-8")
    assert "OWNER/REPO" not in text
    assert "mybinder.org/v2/gh/" not in text  # no badge until the repository has a home
    assert "scripts/binder_badge.py" in text
