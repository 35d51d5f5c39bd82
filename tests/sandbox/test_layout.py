"""The sandbox's folders point down: chain/ and worker/ never reach up into the API or HTTP edge.

http/ (app, routing, route table) -> api/ (handlers) -> store -> worker/ -> chain/; store and
clock import no other sandbox module, and no sandbox module imports the package root.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parents[2] / "nosana_nb" / "sandbox"

ALLOWED: dict[str, set[str]] = {
    "store": set(),
    "clock": set(),
    "chain": {"chain", "store", "clock"},
    "worker": {"worker", "chain", "store", "clock"},
}


def _part(path: Path) -> str:
    """``chain`` for chain/ledger.py, ``store`` for store.py."""
    rel = path.relative_to(SANDBOX)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _sandbox_imports(path: Path) -> set[str]:
    """The sandbox parts (folder or top-level module) that ``path`` imports; ``""`` is the root."""
    here = _part(path)
    in_folder = path.parent != SANDBOX
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            module = node.module or ""
            if in_folder:
                found.add(here)
            elif module:
                found.add(module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "nosana_nb.sandbox":
                found.add("")
            elif node.module.startswith("nosana_nb.sandbox."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "nosana_nb.sandbox":
                    found.add("")
                elif alias.name.startswith("nosana_nb.sandbox."):
                    found.add(alias.name.split(".")[2])
    return found


SOURCES = sorted(p for p in SANDBOX.rglob("*.py") if p != SANDBOX / "__init__.py")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SANDBOX)))
def test_sandbox_modules_import_only_what_their_layer_may(path: Path) -> None:
    imported = _sandbox_imports(path)
    assert "" not in imported, "only nosana_nb.sandbox.__init__ wires the parts together"
    allowed = ALLOWED.get(_part(path))
    if allowed is not None:
        assert imported <= allowed, f"{sorted(imported - allowed)} is above {_part(path)}"
