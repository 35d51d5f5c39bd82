"""The sync deployment resources are generated from the async ones and must not drift."""

from __future__ import annotations

import asyncio
import importlib.util
import time
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
    spec.loader.exec_module(module)
    return module


unasync = _load_script()


def test_sync_twin_matches_its_async_source() -> None:
    expected = unasync.generate(unasync.SOURCE.read_text(encoding="utf-8"))
    difference = unasync.drift(unasync.TARGET.read_text(encoding="utf-8"), expected)
    assert difference == "", (
        "_sync_deployments.py differs from what _async_deployments.py generates; "
        "run .venv/bin/python scripts/unasync.py\n" + difference
    )


def test_check_mode_reports_no_drift(capsys: pytest.CaptureFixture[str]) -> None:
    assert unasync.main(["--check"]) == 0
    assert capsys.readouterr().out == ""


def test_the_generated_module_carries_the_do_not_edit_header() -> None:
    first_line = unasync.TARGET.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == unasync.HEADER.rstrip("\n")


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
        ("    async with dm.astream_sse(p) as frames:\n", "    with dm.stream_sse(p) as frames:"),
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
    text = unasync.unasync('"""The async "resources".\n\nMore."""\n\nimport asyncio\n')
    assert text == unasync.SYNC_DOCSTRING + "\n\n"


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


def test_the_public_module_reexports_both_twins() -> None:
    from nosana_nb.core import _async_deployments, _sync_deployments

    assert deployments.Deployment is _sync_deployments.Deployment
    assert deployments.AsyncDeployment is _async_deployments.AsyncDeployment
    assert deployments.Deployment.__module__ == "nosana_nb.core._sync_deployments"
