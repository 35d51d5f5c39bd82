"""Public names loaded on first use (PEP 562), so importing a package stays light.

A package lists ``name -> module`` and gets a module-level ``__getattr__`` / ``__dir__`` pair:
``from nosana_nb.core import NosanaClient`` imports ``nosana_nb.core.client`` then, not at
``import nosana_nb.core``. Type checkers read the same names from ``if TYPE_CHECKING:`` imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any], *, submodules: bool = False
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` resolving ``exports`` on first access.

    Args:
        package: the package's ``__name__``.
        exports: public name -> the module that defines it.
        namespace: the package's ``globals()``; a loaded name is cached there.
        submodules: also load ``package.<name>`` for a public name that is a submodule
            (``nosana_nb.frames`` after a bare ``import nosana_nb``).

    Returns:
        The ``(__getattr__, __dir__)`` pair to assign at module level.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
            namespace[name] = value
            return value
        if submodules and not name.startswith("_"):
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as missing:
                if missing.name != f"{package}.{name}":
                    raise
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__
