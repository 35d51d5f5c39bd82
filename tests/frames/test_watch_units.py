"""Watcher pieces without a server: rows, dedupe, journal, snapshot phases, argument checks."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import pytest

from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.errors import (
    APIConnectionError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    StreamError,
    ValidationError,
    WalletError,
)
from nosana_nb.core.models import STREAM_MESSAGE_ADAPTER, Job, JobDetail, Page, PaginationMeta
from nosana_nb.core.wallet import Wallet
from nosana_nb.watch import Watcher
from nosana_nb.watch._frames import JOBS_HISTORY_SCHEMA, job_records, jobs_history_frame
from nosana_nb.watch._history import HistoryState
from nosana_nb.watch._journal import Journal
from nosana_nb.watch._recorder import Recorder
from nosana_nb.watch._rows import (
    RowFormatError,
    deployment_row,
    from_unix,
    job_row,
    job_time,
    row_from_json,
    row_to_json,
)
from nosana_nb.watch._session import (
    DeploymentSession,
    SessionSettings,
    SnapshotPhase,
    is_transient,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DEP = "DgyJNDS3fauyh997bKbSUAT1RERuDwuzxrxosfWgjf8n"
JOB = "5cALMuEBveToth5b5m33YtjmyUA4GhHfBgkacwvUiw8G"


def status_row(status: str, at: datetime = T0, deployment: str = DEP) -> dict[str, Any]:
    return deployment_row(
        deployment, status, replicas=1, active_revision=1, source="stream", received=at
    )


def state_row(state: str, at: datetime = T0, job: str = JOB) -> dict[str, Any]:
    return job_row(DEP, job, state, node=None, time=at, source="stream")


# --- rows -------------------------------------------------------------------------------------


def test_job_time_prefers_the_services_start_and_end() -> None:
    fallback = T0
    start, end = 1_767_225_600, 1_767_229_200
    assert job_time("QUEUED", time_start=start, time_end=end, fallback=fallback) == fallback
    assert job_time("RUNNING", time_start=start, time_end=0, fallback=fallback) == from_unix(start)
    assert job_time("COMPLETED", time_start=start, time_end=end, fallback=fallback) == from_unix(
        end
    )
    assert job_time("STOPPED", time_start=0, time_end=0, fallback=fallback) == fallback
    assert from_unix(0) is None
    assert from_unix(start) == datetime(2026, 1, 1, tzinfo=UTC)


def test_rows_round_trip_through_json() -> None:
    row = state_row("RUNNING", T0.astimezone(timezone(timedelta(hours=2))))
    stored = json.loads(json.dumps(row_to_json(row)))
    back = row_from_json(stored)
    assert back == row
    assert back["time"].tzinfo is UTC


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ([], "JSON object"),
        ({"type": "event", "deployment": DEP, "time": "2026-01-01T00:00:00Z"}, "type"),
        ({"type": "deployment", "time": "2026-01-01T00:00:00Z", "source": "stream"}, "deployment"),
        ({"type": "job", "deployment": DEP, "state": "QUEUED", "source": "stream"}, "job"),
        (
            {"type": "deployment", "deployment": DEP, "status": "DRAFT", "source": "x"},
            "source",
        ),
        (
            {
                "type": "deployment",
                "deployment": DEP,
                "status": "DRAFT",
                "source": "stream",
                "time": "yesterday",
            },
            "ISO 8601",
        ),
    ],
)
def test_bad_stored_rows_are_named(record: Any, problem: str) -> None:
    with pytest.raises(RowFormatError, match=problem):
        row_from_json(record)


# --- dedupe -----------------------------------------------------------------------------------


def test_deployment_status_dedupes_against_the_last_status_only() -> None:
    history = HistoryState()
    recorded = []
    for status in ["DRAFT", "DRAFT", "STARTING", "RUNNING", "RUNNING", "STOPPED", "STARTING"]:
        row = status_row(status)
        if history.is_new(row):
            history.add(row)
            recorded.append(status)
    # a restart legitimately goes back to STARTING; a repeated snapshot adds nothing
    assert recorded == ["DRAFT", "STARTING", "RUNNING", "STOPPED", "STARTING"]
    assert history.last_status(DEP) == "STARTING"


def test_job_states_dedupe_on_every_state_seen_and_never_move_back() -> None:
    history = HistoryState()
    for state in ["QUEUED", "RUNNING", "COMPLETED"]:
        history.add(state_row(state))
    assert not history.is_new(state_row("RUNNING"))
    history.add(state_row("RUNNING"))  # a late frame
    assert history.job_states(DEP) == {JOB: "COMPLETED"}
    assert history.active_jobs(DEP) == set()
    assert history.has_final(DEP, JOB)
    history.add(state_row("QUEUED", job="other"))
    assert history.active_jobs(DEP) == {"other"}
    assert history.knows(DEP)
    assert not history.knows("elsewhere")


# --- journal ----------------------------------------------------------------------------------


def test_journal_appends_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "history.jsonl"
    journal = Journal(path)
    assert journal.load() == []
    rows = [status_row("DRAFT"), state_row("QUEUED", T0 + timedelta(seconds=1))]
    for row in rows:
        journal.append(row)
    journal.close()
    assert Journal(path).load() == rows


def test_journal_tolerates_and_cuts_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    good = json.dumps(row_to_json(status_row("DRAFT")))
    path.write_text(good + "\n" + good[:25], encoding="utf-8")
    journal = Journal(path)
    assert journal.load() == [status_row("DRAFT")]
    journal.append(status_row("RUNNING"))
    journal.close()
    assert [r["status"] for r in Journal(path).load()] == ["DRAFT", "RUNNING"]
    assert path.read_text(encoding="utf-8").count("\n") == 2


def test_journal_completes_a_last_row_that_lacks_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text(json.dumps(row_to_json(status_row("DRAFT"))), encoding="utf-8")
    journal = Journal(path)
    journal.load()
    journal.append(status_row("RUNNING"))
    journal.close()
    assert [r["status"] for r in Journal(path).load()] == ["DRAFT", "RUNNING"]


def test_journal_refuses_a_corrupt_middle_line(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    good = json.dumps(row_to_json(status_row("DRAFT")))
    path.write_text(f"{good}\nnot json\n{good}\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="line 2"):
        Journal(path).load()


def test_journal_path_must_be_a_file_path(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="directory"):
        Journal(tmp_path)
    with pytest.raises(ValidationError, match="file path"):
        Journal(42)  # type: ignore[arg-type]


# --- recorder ---------------------------------------------------------------------------------


def test_a_failing_callback_does_not_stop_recording(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder([DEP], None)
    seen: list[dict[str, Any]] = []

    def broken(row: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    recorder.subscribe(broken)
    unsubscribe = recorder.subscribe(seen.append)
    with caplog.at_level(logging.ERROR, logger="nosana_nb.watch"):
        assert recorder.record(status_row("DRAFT"))
    assert not recorder.record(status_row("DRAFT"))
    assert "callback failed" in caplog.text
    unsubscribe()
    recorder.record(status_row("RUNNING"))
    assert [r["status"] for r in seen] == ["DRAFT"]
    assert [r["status"] for r in recorder.rows()] == ["DRAFT", "RUNNING"]
    assert not recorder.wait_for(lambda: False, 0.01)


# --- snapshot phases --------------------------------------------------------------------------


def frame(**fields: Any) -> Any:
    return STREAM_MESSAGE_ADAPTER.validate_python(fields)


def test_snapshot_frames_are_told_from_live_ones() -> None:
    phase = SnapshotPhase()
    job = {"type": "job", "node": None, "timeStart": 0, "timeEnd": 0}
    task = {"type": "task", "task": "LIST", "attempts": 0, "job": None}
    sequence = [
        frame(type="deployment", status="RUNNING", replicas=2, active_revision=1),
        frame(**job, job="a", state="RUNNING"),
        frame(**job, job="b", state="QUEUED"),
        frame(**task, id="t1", status="PENDING"),
        frame(**task, id="t2", status="PENDING"),
        frame(**job, job="b", state="RUNNING"),  # after the tasks: live
        frame(**task, id="t3", status="PENDING"),
    ]
    assert [phase.source(m) for m in sequence] == ["snapshot"] * 5 + ["stream"] * 2


def test_a_repeated_or_finished_job_ends_the_snapshot() -> None:
    phase = SnapshotPhase()
    job = {"type": "job", "node": None, "timeStart": 0, "timeEnd": 0}
    assert phase.source(frame(type="deployment", status="RUNNING")) == "snapshot"
    assert phase.source(frame(**job, job="a", state="QUEUED")) == "snapshot"
    assert phase.source(frame(**job, job="a", state="QUEUED")) == "stream"
    other = SnapshotPhase()
    other.source(frame(type="deployment", status="RUNNING"))
    assert other.source(frame(**job, job="a", state="COMPLETED")) == "stream"


def test_which_errors_are_retried() -> None:
    assert is_transient(StreamError("stalled"))
    assert is_transient(APIConnectionError("refused", method="GET", url="u"))
    for cls, code in ((InternalServerError, 503), (RateLimitError, 429), (NotFoundError, 404)):
        error = cls("x", method="GET", url="u", status_code=code, error_text="x", body=None)
        assert is_transient(error) is (code != 404)


# --- frames -----------------------------------------------------------------------------------


def test_jobs_history_has_fixed_columns_when_empty() -> None:
    frame_ = jobs_history_frame([status_row("DRAFT")])
    assert frame_.empty
    assert list(frame_.columns) == list(JOBS_HISTORY_SCHEMA)
    assert {c: str(frame_[c].dtype) for c in frame_.columns} == {
        c: str(d) for c, d in JOBS_HISTORY_SCHEMA.items()
    }


def test_job_records_fold_transitions_into_one_record_per_job() -> None:
    rows = [
        state_row("QUEUED", T0),
        job_row(DEP, JOB, "RUNNING", node="node1", time=T0 + timedelta(seconds=5), source="stream"),
        state_row("COMPLETED", T0 + timedelta(hours=1)),
        state_row("QUEUED", T0 + timedelta(seconds=2), job="other"),
    ]
    records = {r["job"]: r for r in job_records(rows)}
    assert records[JOB] == {
        "job": JOB,
        "deployment": DEP,
        "node": "node1",
        "state": "COMPLETED",
        "created_at": T0.isoformat(),
        "time_start": (T0 + timedelta(seconds=5)).timestamp(),
        "time_end": (T0 + timedelta(hours=1)).timestamp(),
    }
    assert records["other"]["state"] == "QUEUED"


# --- Watcher arguments ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def offline_client() -> Any:
    # nothing listens on port 9: a check that sent anything would fail differently
    with NosanaClient(local_network("http://127.0.0.1:9"), Wallet.generate(), env={}) as client:
        yield client


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"deployments": "not-an-address"}, "deployments"),
        ({"deployments": []}, "deployments"),
        ({"deployments": 42}, "deployments"),
        ({"reconnect_backoff": (1.0,)}, "reconnect_backoff"),
        ({"reconnect_backoff": (5.0, 1.0)}, "reconnect_backoff"),
        ({"reconnect_backoff": (0.0, 1.0)}, "reconnect_backoff"),
        ({"read_timeout": float("nan")}, "read_timeout"),
        ({"read_timeout": True}, "read_timeout"),
        ({"on_change": "print"}, "on_change"),
        ({"fsync": "yes"}, "fsync"),
    ],
)
def test_bad_arguments_fail_before_anything_is_sent(
    offline_client: NosanaClient, kwargs: dict[str, Any], argument: str
) -> None:
    arguments: dict[str, Any] = {"deployments": DEP, **kwargs}
    with pytest.raises(ValidationError) as info:
        Watcher(offline_client, **arguments)
    assert info.value.argument == argument


def test_watching_needs_a_client_with_a_signing_wallet() -> None:
    with pytest.raises(ValidationError) as info:
        Watcher("http://127.0.0.1:9", DEP)  # type: ignore[arg-type]
    assert info.value.argument == "client"
    read_only = Wallet.read_only(Wallet.generate().address)
    with (
        NosanaClient(local_network("http://127.0.0.1:9"), read_only, env={}) as client,
        pytest.raises(WalletError),
    ):
        Watcher(client, DEP)


async def test_an_async_client_is_accepted_too() -> None:
    network = local_network("http://127.0.0.1:9")
    async with AsyncNosanaClient(network, Wallet.generate(), env={}) as client:
        watcher = Watcher(client, [DEP])
    assert watcher.deployments == (DEP,)
    assert not watcher.is_running


def test_repr_and_status_hold_no_secret(offline_client: NosanaClient) -> None:
    watcher = Watcher(offline_client, DEP)
    assert offline_client.wallet is not None
    keypair = offline_client.wallet.keypair_for_signing()
    text = repr(watcher) + repr(watcher.status)
    assert DEP in text
    assert str(keypair) not in text  # the base58 secret
    assert str(list(bytes(keypair))) not in text
    assert "Authorization" not in text
    assert watcher.status[DEP].state == "idle"


def test_importing_watch_and_live_loads_no_notebook_library() -> None:
    code = (
        "import json, sys; import nosana_nb.watch, nosana_nb.live; "
        "print(json.dumps([m for m in ('pandas', 'plotly', 'ipywidgets', 'anywidget') "
        "if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout) == []


# --- reconcile, with a stand-in for AsyncDeployment -------------------------------------------


class FakePager:
    def __init__(self, pages: list[Page[Job]]) -> None:
        self._pages = pages

    async def first_page(self) -> Page[Job]:
        return self._pages[0]

    async def pages(self) -> AsyncIterator[Page[Job]]:
        for page in self._pages:
            yield page


class FakeDeployment:
    """The jobs list (newest first, in pages), single-job lookups and job details."""

    def __init__(self, pages: list[list[Job]], details: dict[str, int]) -> None:
        self._pages = [Page[Job](items=p, pagination=PaginationMeta()) for p in pages]
        self._jobs = {job.job: job for page in pages for job in page}
        self._ends = details
        self.lookups: list[str] = []

    def get_jobs(self, *, job: str | None = None, **_: Any) -> FakePager:
        if job is None:
            return FakePager(self._pages)
        self.lookups.append(job)
        return FakePager([Page[Job](items=[self._jobs[job]], pagination=PaginationMeta())])

    async def get_job(self, job: str) -> JobDetail:
        return JobDetail(state=2, timeStart=1, timeEnd=self._ends[job])


def listed(job: str, state: str, *, start: int = 0, minute: int = 0) -> Job:
    created = T0 + timedelta(minutes=minute)
    return Job(deployment=DEP, job=job, state=state, time_start=start, created_at=created)


async def test_reconcile_fills_the_gap_and_looks_up_old_active_jobs() -> None:
    start, end = 1_767_225_600, 1_767_229_200
    recorder = Recorder([DEP], None)
    for row in (state_row("QUEUED", job="old"), state_row("RUNNING", job="old")):
        recorder.record(row)
    recorder.record(state_row("COMPLETED", job="done"))
    session = DeploymentSession(
        DEP, recorder, SessionSettings(60.0, 0.1, 1.0), clock=lambda: T0 + timedelta(days=1)
    )
    born = listed("born", "COMPLETED", start=start + 5, minute=9)
    fake = FakeDeployment(
        # newest first; "done" was known before the drop, so the walk stops on this page
        pages=[[born, listed("done", "COMPLETED", start=start, minute=2)], [listed("x", "QUEUED")]],
        details={"born": end + 5, "old": end},
    )
    fake._jobs["old"] = listed("old", "COMPLETED", start=start, minute=1)
    await session._reconcile(cast(Any, fake), recorder.history().job_states(DEP))

    assert fake.lookups == ["old"]  # not on the first page: looked up on its own
    added = [(r["job"], r["state"], r["time"], r["source"]) for r in recorder.rows()[3:]]
    assert added == [
        ("old", "COMPLETED", from_unix(end), "reconcile"),
        ("born", "QUEUED", T0 + timedelta(minutes=9), "reconcile"),
        ("born", "RUNNING", from_unix(start + 5), "reconcile"),
        ("born", "COMPLETED", from_unix(end + 5), "reconcile"),
    ]
