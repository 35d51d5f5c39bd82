"""The sync twins are generated from the async sources in core/_async/ and must not drift."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
from collections import Counter
from dataclasses import fields
from pathlib import Path
from types import ModuleType

import pytest

from nosana_nb.core import deployments

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "unasync.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_script", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


unasync = _load_script()


@pytest.fixture(scope="module")
def generated() -> dict[Path, str]:
    expected: dict[Path, str] = unasync.generate_all()
    return expected


def test_every_async_module_has_a_twin_entry() -> None:
    sources = {p.stem for p in unasync.ASYNC_DIR.glob("*.py") if p.name != "__init__.py"}
    assert sources == set(unasync.MODULES)
    assert unasync.strays() == []


@pytest.mark.parametrize("name", sorted(unasync.MODULES))
def test_sync_twin_matches_its_async_source(name: str, generated: dict[Path, str]) -> None:
    target = unasync.target_path(name)
    difference = unasync.drift(target.read_text(encoding="utf-8"), generated[target], target)
    assert difference == "", (
        f"_sync/{name}.py differs from what _async/{name}.py generates; "
        "run .venv/bin/python scripts/unasync.py\n" + difference
    )


def test_check_mode_reports_no_drift(capsys: pytest.CaptureFixture[str]) -> None:
    assert unasync.main(["--check"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("name", sorted(unasync.MODULES))
def test_the_generated_modules_carry_the_do_not_edit_header(name: str) -> None:
    first_line = unasync.target_path(name).read_text(encoding="utf-8").splitlines()[0]
    assert first_line == unasync.HEADER.format(name=name).rstrip("\n")


def test_every_rule_fires_on_some_module() -> None:
    hits: Counter[str] = Counter()
    for name in unasync.MODULES:
        unasync.unasync(unasync.source_path(name).read_text(encoding="utf-8"), name, hits)
    assert unasync.unused_rules(hits) == []
    assert all(hits[rule.name] > 0 for rule in unasync.RULES)


def test_a_rule_that_never_fires_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    stale = unasync.Rule("AsyncNeverUsed", unasync.re.compile(r"\bAsyncNeverUsed\b"), "Never")
    monkeypatch.setattr(unasync, "RULES", [*unasync.RULES, stale])
    with pytest.raises(unasync.UnasyncError, match=r"never fire.*AsyncNeverUsed"):
        unasync.generate_all()


def test_the_formatter_is_the_pinned_ruff(monkeypatch: pytest.MonkeyPatch) -> None:
    pinned = unasync.pinned_ruff_version()
    assert unasync.installed_ruff_version() == pinned
    unasync.check_ruff_pin()
    monkeypatch.setattr(unasync, "installed_ruff_version", lambda: "0.0.1")
    with pytest.raises(unasync.UnasyncError, match=f"pinned to ruff {pinned}"):
        unasync.check_ruff_pin()
    assert unasync.main(["--check"]) == 2


def test_the_pin_is_read_from_pyproject() -> None:
    assert unasync.pinned_ruff_version('dev = ["ruff==1.2.3", "mypy>=1"]') == "1.2.3"
    with pytest.raises(unasync.UnasyncError, match="pin ruff exactly once"):
        unasync.pinned_ruff_version('dev = ["ruff>=0.8"]')


@pytest.mark.parametrize(
    ("async_code", "sync_code"),
    [
        (
            "async def f(x: AsyncPager[T]) -> AsyncDeployment: ...\n",
            "def f(x: SyncPager[T]) -> Deployment: ...",
        ),
        (
            "    events = (await self._services.send(route)).items\n",
            "    events = self._services.send(route).items",
        ),
        (
            "    events = (\n        await self.send(route)\n    ).items\n",
            "    events = self.send(route).items",
        ),
        ("    handle = f(await self.send(route))\n", "    handle = f(self.send(route))"),
        ("    total = (await self.count()) + 1\n", "    total = self.count() + 1"),
        (
            "recover: Callable[[], Awaitable[list[R] | None]]\n",
            "recover: Callable[[], list[R] | None]",
        ),
        (
            "sleep: Callable[[float], Awaitable[None]] = asyncio.sleep\n",
            "sleep: Callable[[float], None] = time.sleep",
        ),
        ("    async with dm.stream_sse(p) as frames:\n", "    with dm.stream_sse(p) as frames:"),
        (
            "from nosana_nb.core._async.http import AsyncHTTP\n",
            "from nosana_nb.core._sync.http import SyncHTTP",
        ),
        (
            "    async with contextlib.AsyncExitStack() as s:\n",
            "    with contextlib.ExitStack() as s:",
        ),
        ("    await self.sleeper.asleep(wait)\n", "    self.sleeper.sleep(wait)"),
        (
            "        async for m in aiter_messages(frames):\n",
            "        for m in iter_messages(frames):",
        ),
        ("    return await asend(self.dm, route)\n", "    return send(self.dm, route)"),
        (
            "    timeout: float = 600.0,  # noqa: ASYNC109 (same as the twin)\n",
            "    timeout: float = 600.0,",
        ),
        ("x: AsyncVaults | AsyncVault | AsyncServices\n", "x: Vaults | Vault | SyncServices"),
        (
            "from collections.abc import AsyncIterator, Awaitable, Callable\n",
            "from collections.abc import Iterator, Callable",
        ),
    ],
)
def test_rewrite_rules(async_code: str, sync_code: str) -> None:
    assert unasync.rewrite(async_code).rstrip("\n") == sync_code


@pytest.mark.parametrize(
    ("async_code", "leftover"),
    [
        ("async def f() -> None:\n    await(g())\n", "Await"),
        ("import typing\nx: typing.Awaitable[int]\n", "Awaitable"),
    ],
)
def test_async_leftovers_are_refused(async_code: str, leftover: str) -> None:
    text = unasync.rewrite(async_code)
    with pytest.raises(unasync.UnasyncError, match=leftover):
        unasync.check_sync(text)


def test_every_async_construct_is_named() -> None:
    code = (
        "async def f() -> None:\n"
        "    async with a() as b:\n"
        "        async for c in b:\n"
        "            await c\n"
        "    return [x async for x in g()]\n"
    )
    with pytest.raises(unasync.UnasyncError) as raised:
        unasync.check_sync(code)
    for construct in ("AsyncFunctionDef", "AsyncWith", "AsyncFor", "Await", "async comprehension"):
        assert construct in str(raised.value)


def test_fully_rewritten_code_passes_the_leftover_check() -> None:
    unasync.check_sync(unasync.rewrite("async def f() -> None:\n    await aclose()\n"))


def test_unbalanced_brackets_are_a_clear_error() -> None:
    with pytest.raises(unasync.UnasyncError, match="unbalanced bracket"):
        unasync.rewrite("x = (await f(]\n")


def test_the_module_docstring_is_swapped_for_the_sync_one() -> None:
    text = unasync.unasync('"""The async "resources".\n\nMore."""\n\nimport asyncio\n', "jobs")
    docstring = unasync.SYNC_DOCSTRING.format(summary=unasync.MODULES["jobs"], name="jobs")
    assert text == docstring + "\n\n"


def test_invalid_python_is_a_clear_error() -> None:
    with pytest.raises(unasync.UnasyncError, match="not valid Python"):
        unasync.rewrite("x = (await f(a b))\n")
    with pytest.raises(unasync.UnasyncError, match="not valid Python"):
        unasync.check_sync("def f(:\n")


def test_a_module_without_docstring_is_refused() -> None:
    with pytest.raises(unasync.UnasyncError, match="docstring"):
        unasync.unasync("x = 1\n")


def _default(cls: type, name: str) -> object:
    return next(f.default for f in fields(cls) if f.name == name)


def test_each_twin_sleeps_with_its_own_clock() -> None:
    assert _default(deployments.SyncServices, "sleep") is time.sleep
    assert _default(deployments.AsyncServices, "sleep") is asyncio.sleep
    assert _default(deployments.SyncServices, "monotonic") is time.monotonic


def test_the_public_modules_reexport_both_twins() -> None:
    from nosana_nb.core import http, jobs, markets, solana_rpc, vaults
    from nosana_nb.core._async import deployments as async_deployments
    from nosana_nb.core._sync import deployments as sync_deployments

    assert deployments.Deployment is sync_deployments.Deployment
    assert deployments.AsyncDeployment is async_deployments.AsyncDeployment
    assert deployments.Deployment.__module__ == "nosana_nb.core._sync.deployments"
    for sync_cls in (http.SyncHTTP, solana_rpc.SolanaRPC, vaults.Vault, markets.Markets, jobs.Jobs):
        assert sync_cls.__module__.startswith("nosana_nb.core._sync."), sync_cls
    for async_cls in (
        http.AsyncHTTP,
        solana_rpc.AsyncSolanaRPC,
        vaults.AsyncVault,
        markets.AsyncMarkets,
        jobs.AsyncJobs,
    ):
        assert async_cls.__module__.startswith("nosana_nb.core._async."), async_cls
