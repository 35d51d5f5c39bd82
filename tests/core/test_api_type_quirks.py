"""Replies and ids the way the API types and the service have them: bare-array list replies,
the JSON "Unauthorized" 401, and the 43-44 character ids the service accepts in paths."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from solders.pubkey import Pubkey

from nosana_nb.core import routes
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.errors import AuthenticationError, ValidationError
from nosana_nb.core.wallet import Wallet

SHORT_ADDRESS = str(Pubkey.from_bytes(bytes(32)))  # "1111...1": 32 characters, a valid key
DEPLOYMENT = "4mDcpwoXfGW7tFrWPWbc6Nn5DA2csSNJufe2NAgpEf96"
DEPLOYMENT_ROW = {
    "id": DEPLOYMENT,
    "name": "old-shape",
    "vault": "E8g31boP7u7Zh1rBKCKaUt5yy3qykdNi63GQAbdDmBsm",
    "market": "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq",
    "owner": "E8g31boP7u7Zh1rBKCKaUt5yy3qykdNi63GQAbdDmBsm",
    "status": "RUNNING",
    "replicas": 1,
    "timeout": 60,
    "endpoints": [],
    "confidential": False,
    "active_revision": 1,
    "active_jobs": 1,
    "created_at": "2025-01-01T00:00:00.000Z",
    "updated_at": "2025-01-01T00:00:00.000Z",
    "strategy": "SIMPLE",
}


def client_answering(
    answer: Callable[[httpx.Request], httpx.Response], sent: list[httpx.Request]
) -> NosanaClient:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answer(request)

    return NosanaClient("local", Wallet.generate(), transport=httpx.MockTransport(handler), env={})


def test_a_bare_array_list_reply_is_one_page() -> None:
    sent: list[httpx.Request] = []
    rows = [DEPLOYMENT_ROW, {**DEPLOYMENT_ROW, "name": "second"}]
    client = client_answering(lambda r: httpx.Response(200, json=rows), sent)
    pager = client.deployments.list()
    page = pager.first_page()
    assert len(page.items) == 2
    assert page.pagination.cursor_next is None
    assert page.pagination.total_items == 2
    assert len(list(pager)) == 2
    assert len(sent) == 1  # the first page is kept; no request for a second page


@pytest.mark.parametrize(
    "reply",
    [
        {"json": "Unauthorized"},
        {"text": "Unauthorized"},
        {"content": b'"Unauthorized"', "headers": {"content-type": "text/plain"}},
    ],
)
def test_a_401_json_string_reads_like_the_text_one(reply: dict[str, Any]) -> None:
    client = client_answering(lambda r: httpx.Response(401, **reply), [])
    with pytest.raises(AuthenticationError) as caught:
        client.deployments.get(DEPLOYMENT)
    assert caught.value.error_text == "Unauthorized"
    assert caught.value.status_code == 401


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.deployments.get(SHORT_ADDRESS),
        lambda c: routes.get_job(DEPLOYMENT, SHORT_ADDRESS),
        lambda c: c.vaults.get(SHORT_ADDRESS).withdraw(),
    ],
)
def test_ids_the_service_refuses_in_paths_fail_before_sending(call: Any) -> None:
    sent: list[httpx.Request] = []
    client = client_answering(lambda r: httpx.Response(500), sent)
    assert len(SHORT_ADDRESS) == 32
    with pytest.raises(ValidationError, match="43-44 character"):
        call(client)
    assert sent == []
