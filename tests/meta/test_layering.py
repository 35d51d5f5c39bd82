"""DESIGN.md rules 1 and 2: layers point down only, and the sandbox is a separate world."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "nosana_nb"
HEAVY = ("pandas", "plotly", "ipywidgets")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.add("." * node.level + (node.module or ""))
            elif node.module:
                found.add(node.module)
    return found


def test_importing_the_core_loads_no_notebook_libraries() -> None:
    code = (
        "import json, sys; import nosana_nb, nosana_nb.core; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout) == []


def test_importing_the_core_defers_the_vault_and_cron_libraries() -> None:
    """solana-py's SPL builders and croniter load on first use of a vault or a cron check."""
    code = (
        "import json, sys; import nosana_nb, nosana_nb.core; "
        "before = sorted({m.split('.')[0] for m in sys.modules} & {'spl', 'solana', 'croniter'}); "
        "vault = nosana_nb.core.Vault; from nosana_nb.core.vaults import Vault; "
        "print(json.dumps([before, vault is Vault, 'spl' in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout) == [[], True, True]


def test_core_sources_never_import_notebook_libraries_or_upper_layers() -> None:
    offenders = []
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        for module in _imported_modules(path):
            root = module.split(".")[0]
            upper = module.startswith(("nosana_nb.frames", "nosana_nb.plots", "nosana_nb.widgets"))
            if root in HEAVY or upper or module.startswith("nosana_nb.sandbox"):
                offenders.append(f"{path.relative_to(PACKAGE)}: {module}")
    assert offenders == []


def test_sandbox_imports_nothing_from_the_rest_of_the_package() -> None:
    offenders = []
    for path in sorted((PACKAGE / "sandbox").rglob("*.py")):
        for module in _imported_modules(path):
            outside = module.startswith("nosana_nb") and not module.startswith("nosana_nb.sandbox")
            escapes = module.startswith("..")
            if outside or escapes:
                offenders.append(f"{path.relative_to(PACKAGE)}: {module}")
    assert offenders == []
