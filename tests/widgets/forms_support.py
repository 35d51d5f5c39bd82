"""Shared by the create-form, market-explorer and vault-widget tests: a client that counts what
it sends, a walk over a widget tree, and a secret scan of saved widget state."""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import ipywidgets as widgets
from ipywidgets.embed import dependency_state
from ipywidgets.widgets.widget import _instances

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle
from tests.hardening.secret_scan import Needles, scan_text

CREATE_PATH = "/deployments/create"


class CountingTransport(httpx.BaseTransport):
    """A real HTTP transport that records every request: (method, path, JSON-RPC method)."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self._lock = threading.Lock()
        self.sent: list[tuple[str, str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        rpc_method = ""
        if request.url.path.endswith("/rpc"):
            try:
                rpc_method = str(json.loads(request.content).get("method", ""))
            except (ValueError, AttributeError):
                rpc_method = "?"
        with self._lock:
            self.sent.append((request.method, request.url.path, rpc_method))
        return self._inner.handle_request(request)

    def count(self, method: str, path_suffix: str) -> int:
        with self._lock:
            return sum(1 for m, p, _ in self.sent if m == method and p.endswith(path_suffix))

    def rpc_count(self, rpc_method: str) -> int:
        with self._lock:
            return sum(1 for _m, _p, r in self.sent if r == rpc_method)

    def close(self) -> None:
        self._inner.close()


def counting_client(
    handle: SandboxHandle, wallet: Wallet, **kwargs: Any
) -> tuple[NosanaClient, CountingTransport]:
    transport = CountingTransport()
    client = NosanaClient(
        local_network(handle.api_url, nos_mint=handle.nos_mint),
        wallet,
        env={},
        transport=transport,
        **kwargs,
    )
    return client, transport


def walk(root: widgets.Widget) -> Iterator[widgets.Widget]:
    """Every widget under ``root`` (children of boxes), root included."""
    yield root
    for child in getattr(root, "children", ()) or ():
        yield from walk(child)


_UNLABELLED_KINDS = (widgets.HTML, widgets.HTMLMath, widgets.Label, widgets.Output)


def unlabelled(root: widgets.Widget) -> list[str]:
    """Controls with neither a description nor a tooltip to name them."""
    found = []
    for widget in walk(root):
        if isinstance(widget, _UNLABELLED_KINDS):
            continue
        is_control = isinstance(widget, widgets.ValueWidget | widgets.Button)
        if is_control and not (getattr(widget, "description", "") or "").strip():
            found.append(f"{type(widget).__name__}({getattr(widget, 'value', '')!r})")
    return found


def saved_state(root: widgets.Widget) -> str:
    """The widget state a notebook would save for ``root`` (and, separately, the whole
    manager's state), as JSON text."""
    own = dependency_state(root, drop_defaults=False)
    # every open widget of the process, as a notebook saves them. A widget collected meanwhile
    # closes itself (its comm becomes None), so collect first and not during the walk.
    mine = {id(w) for w in walk(root)}
    everything = []
    gc.collect()
    gc.disable()
    try:
        for widget in [w for w in list(_instances.values()) if w.comm is not None]:
            try:
                everything.append(
                    widgets.Widget.get_manager_state(drop_defaults=False, widgets=[widget])
                )
            except AttributeError:
                # another test's widget that still lists a closed child; ours never may
                if id(widget) in mine:
                    raise
    finally:
        gc.enable()
    return json.dumps(own, default=str) + "\n" + json.dumps(everything, default=str)


def secret_hits(root: widgets.Widget, wallet: Wallet, **extra: str) -> list[str]:
    needles = Needles.for_wallet(wallet)
    for label, secret in extra.items():
        needles.add(label, secret)
    return [str(hit) for hit in scan_text(saved_state(root), needles, "widget state")]


def traits_holding(root: widgets.Widget, forbidden: tuple[type, ...]) -> list[str]:
    """Trait values (synced or not) of any widget under ``root`` that are ``forbidden``."""
    found = []
    for widget in walk(root):
        for name in widget.trait_names():
            value = getattr(widget, name, None)
            if isinstance(value, forbidden):
                found.append(f"{type(widget).__name__}.{name}")
    return found
