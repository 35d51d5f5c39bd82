"""Docstrings and notes cite only what is in the repository: no file outside it, and every
``wire-contract §N`` / ``wire-contract.md#anchor`` names a section of docs/wire-contract.md."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "docs" / "wire-contract.md"
SEARCHED = ("nosana_nb", "tests", "bench", "scripts", "docs", "notebooks")
OUTSIDE = re.compile(r"\.\./shared|deployment-manager-api\.md|sdks\.md|ux-features\.md|spec §")
SECTION_CITE = re.compile(r"wire-contract(?:\.md)? §(\d+(?:\.\d+)?)")
ANCHOR_CITE = re.compile(r"wire-contract\.md#([a-z0-9-]+)")


def _texts() -> list[tuple[Path, str]]:
    found = [(REPO / "README.md", (REPO / "README.md").read_text(encoding="utf-8"))]
    for folder in SEARCHED:
        for path in sorted((REPO / folder).rglob("*")):
            if path.suffix in {".py", ".md", ".ipynb", ".toml"} and path != Path(__file__):
                found.append((path, path.read_text(encoding="utf-8")))
    return found


def _sections() -> set[str]:
    numbers = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", CONTRACT.read_text(), re.M))
    # "### 5.11–5.14 start, stop ..." headings cover a range of numbered routes
    for first, last in re.findall(r"^### (\d+\.\d+)[–-](\d+\.\d+)", CONTRACT.read_text(), re.M):
        major, low = first.split(".")
        numbers.update(f"{major}.{n}" for n in range(int(low), int(last.split(".")[1]) + 1))
    for first, second in re.findall(r"^### (\d+\.\d+), (\d+\.\d+)", CONTRACT.read_text(), re.M):
        numbers.update({first, second})
    return numbers


def test_nothing_cites_a_file_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(REPO)}: {match.group(0)}"
        for path, text in _texts()
        if path != CONTRACT
        for match in OUTSIDE.finditer(text)
    ]
    assert offenders == []


def test_every_cited_section_exists() -> None:
    sections = _sections()
    anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', CONTRACT.read_text()))
    missing = []
    for path, text in _texts():
        missing += [f"{path.name} §{n}" for n in SECTION_CITE.findall(text) if n not in sections]
        missing += [f"{path.name} #{a}" for a in ANCHOR_CITE.findall(text) if a not in anchors]
    assert missing == []


def test_the_section_parser_sees_the_contract() -> None:
    sections = _sections()
    assert {"1.1", "7.1", "10.3", "14.3", "5.12"} <= sections
    assert "99.9" not in sections
