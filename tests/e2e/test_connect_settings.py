"""``connect()`` never silently keeps a sandbox whose settings differ from what was asked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import nosana_nb


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("NOSANA_SANDBOX_URL", raising=False)
    nosana_nb.stop_sandbox()
    yield
    nosana_nb.stop_sandbox()


def test_a_conflicting_setting_is_an_error_and_restart_applies_it(clean: None) -> None:
    frozen = nosana_nb.connect(db=":memory:", speed=None, seed=5, fund_sol=0, fund_nos=0)
    running = nosana_nb.current_sandbox()
    assert running is not None
    assert running.clock.manual_mode

    again = nosana_nb.connect(fund_sol=0, fund_nos=0)  # nothing asked: reuse
    assert nosana_nb.current_sandbox() is running
    assert nosana_nb.connect(db=":memory:", speed=None, seed=5, fund_sol=0, fund_nos=0)
    for conflicting, named in (
        ({"speed": 60}, "speed=60 (running: None)"),
        ({"seed": 6}, "seed=6 (running: 5)"),
    ):
        with pytest.raises(nosana_nb.ValidationError) as caught:
            nosana_nb.connect(**conflicting)
        assert named in str(caught.value)
        assert "restart=True" in str(caught.value)
        assert nosana_nb.current_sandbox() is running  # nothing was changed
    assert again.now() == frozen.now()  # still frozen

    restarted = nosana_nb.connect(db=":memory:", speed=60, restart=True, fund_sol=0, fund_nos=0)
    handle = nosana_nb.current_sandbox()
    assert handle is not None
    assert handle is not running
    assert handle.clock.speed == 60
    restarted.now()
    assert restarted.service_clock.rate == 60
    for client in (frozen, again, restarted):
        client.close()


def test_connect_refuses_a_bad_restart_flag(clean: None) -> None:
    with pytest.raises(nosana_nb.ValidationError, match="restart"):
        nosana_nb.connect(db=":memory:", restart="yes")  # type: ignore[call-overload]
    assert nosana_nb.current_sandbox() is None
