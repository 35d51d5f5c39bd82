"""Bad input fails before the network: every corpus case raises a typed error naming its
argument, and the transport sees zero requests (sync and async clients alike)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from nosana_nb.core.errors import NosanaError, ValidationError
from tests.hardening.bad_input_corpus import (
    ACCEPTED,
    CORPUS,
    BadInput,
    Surface,
    build_surface,
    close_surface,
)

pytestmark = pytest.mark.timeout(60)


def _params() -> list[Any]:
    params = []
    for case in CORPUS:
        marks = []
        if case.known_gap:
            marks.append(pytest.mark.xfail(reason=case.known_gap, strict=True))
        for mode in case.modes:
            params.append(pytest.param(case, mode, id=f"{mode}-{case.id}", marks=marks))
    return params


async def _outcome(case: BadInput, surface: Surface) -> BaseException | None:
    """The exception the call raised (awaiting async results and first pages), or None."""
    try:
        result = case.call(surface)
        if inspect.isawaitable(result):
            await result
    except Exception as exc:
        return exc
    return None


def names_argument(error: BaseException, argument: str) -> bool:
    if getattr(error, "argument", None) == argument:
        return True
    return argument.lower() in str(error).lower()


async def check_case(case: BadInput, mode: str) -> tuple[BaseException | None, int]:
    """Run one case on a fresh surface; returns (what was raised, requests sent)."""
    surface = build_surface(mode)
    try:
        raised = await _outcome(case, surface)
        return raised, surface.requests_sent
    finally:
        await close_surface(surface)


def test_corpus_is_broad() -> None:
    assert len(CORPUS) >= 150
    assert len({case.id for case in CORPUS}) == len(CORPUS), "case ids must be unique"
    areas = {case.id.split(".")[0] for case in CORPUS}
    assert {
        "wallet",
        "resolve_network",
        "client",
        "create",
        "deployments",
        "deployment",
        "vault",
        "markets",
        "jobs",
        "connect",
    } <= areas


@pytest.mark.parametrize(("case", "mode"), _params())
async def test_bad_input_is_refused_before_sending(case: BadInput, mode: str) -> None:
    raised, sent = await check_case(case, mode)
    assert raised is not None, f"{case.id} was accepted"
    assert isinstance(raised, case.error), f"{case.id} raised {type(raised).__name__}: {raised}"
    assert isinstance(raised, NosanaError)
    assert names_argument(raised, case.argument), (
        f"{case.id}: error does not name {case.argument!r}: {raised}"
    )
    assert sent == 0, f"{case.id} sent {sent} request(s) before refusing"


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", sorted(ACCEPTED))
async def test_valid_edge_values_reach_the_service(name: str, mode: str) -> None:
    surface = build_surface(mode)
    try:
        result = ACCEPTED[name](surface)
        if inspect.isawaitable(result):
            await result
    except ValidationError as exc:  # refusing a valid value is a bug too
        pytest.fail(f"{name} was refused: {exc}")
    except NosanaError:
        pass  # the fake service may answer with an error; what matters is it was asked
    finally:
        await close_surface(surface)
    assert surface.requests_sent >= 1
