"""The public surface is what ``__all__`` says and every name resolves (ruff RUF022 sorts it)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

PUBLIC_MODULES = [
    "nosana_nb",
    "nosana_nb.core",
    "nosana_nb.frames",
    "nosana_nb.plots",
    "nosana_nb.watch",
    "nosana_nb.sandbox",
    "nosana_nb.export",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_unique_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported))
    missing = [attr for attr in exported if not hasattr(module, attr)]
    assert missing == []


def test_seed_entry_points_are_public() -> None:
    import nosana_nb

    assert nosana_nb.Client is nosana_nb.NosanaClient
    for name in ("connect", "AsyncNosanaClient", "Wallet", "InsufficientFundsError"):
        assert name in nosana_nb.__all__


def _exception_classes(module: object) -> dict[str, type[BaseException]]:
    return {
        name: obj
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == getattr(module, "__name__", None)
    }


def test_every_exception_is_defined_in_core_errors_and_exported_from_the_top() -> None:
    import nosana_nb
    from nosana_nb.core import errors

    defined = _exception_classes(errors)
    assert len(defined) >= 34
    missing = sorted(name for name in defined if name not in nosana_nb.__all__)
    assert missing == []
    assert all(getattr(nosana_nb, name) is cls for name, cls in defined.items())
    assert all(name in errors.__all__ for name in defined)


def test_no_module_outside_core_errors_defines_a_public_exception() -> None:
    """The sandbox is a separate world with its own errors; everything else uses core.errors."""
    import nosana_nb

    strays = []
    for info in pkgutil.walk_packages(nosana_nb.__path__, "nosana_nb."):
        if info.name.startswith("nosana_nb.sandbox") or info.name == "nosana_nb.core.errors":
            continue
        module = importlib.import_module(info.name)
        strays += [
            f"{info.name}.{name}" for name in _exception_classes(module) if not name.startswith("_")
        ]
    assert strays == []


@pytest.mark.parametrize(
    ("old_path", "name"),
    [
        ("nosana_nb.core.deployments", "DeploymentWaitError"),
        ("nosana_nb.core.deployments", "DeploymentFailedError"),
        ("nosana_nb.core.deployments", "WaitTimeoutError"),
        ("nosana_nb.core.solana_rpc", "SolanaRPCError"),
        ("nosana_nb.core.vaults", "UnsafeWithdrawError"),
    ],
)
def test_moved_exceptions_still_import_from_their_old_paths(old_path: str, name: str) -> None:
    from nosana_nb.core import errors

    assert getattr(importlib.import_module(old_path), name) is getattr(errors, name)


def test_a_user_can_catch_any_error_from_the_top_level() -> None:
    import nosana_nb

    error = nosana_nb.RateLimitError(
        "x", method="GET", url="u", status_code=429, body=None, error_text="x"
    )
    with pytest.raises(nosana_nb.APIStatusError) as caught:
        raise error
    assert isinstance(caught.value, nosana_nb.NosanaError)
