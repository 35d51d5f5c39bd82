"""NosanaClient and AsyncNosanaClient: the entry points, wiring config, wallet and HTTP.

Credentials go only where they belong: the wallet signature only to the deployment manager,
the pinning JWT only to the pinning service; markets and the IPFS gateway get no credential.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Mapping
from types import TracebackType
from typing import Any, NoReturn, TypeVar

import httpx

from nosana_nb.core import routes
from nosana_nb.core.auth import ApiKeyAuth, WalletAuth
from nosana_nb.core.config import NetworkConfig, resolve_network
from nosana_nb.core.deployments import (
    AsyncDeployments,
    AsyncServices,
    AsyncVaults,
    Deployments,
    SyncServices,
    Vaults,
)
from nosana_nb.core.errors import WalletError
from nosana_nb.core.http import (
    DEFAULT_BACKOFF_FACTOR,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    AsyncHTTP,
    SyncHTTP,
)
from nosana_nb.core.jobs import AsyncJobs, Jobs
from nosana_nb.core.markets import AsyncMarkets, Markets
from nosana_nb.core.models import Stats
from nosana_nb.core.solana_rpc import AsyncSolanaRPC, SolanaRPC
from nosana_nb.core.wallet import ENV_WALLET, Wallet

TimeoutArg = float | httpx.Timeout | None
HTTPShell = TypeVar("HTTPShell", SyncHTTP, AsyncHTTP)
API_KEY_HEADER = "x-nosana-api"
CREATE_PATH = "/deployments/create"


def _load_wallet(wallet: Any, env: Mapping[str, str] | None) -> Wallet | None:
    if wallet is not None:
        return Wallet.load(wallet, env=env)
    environ = os.environ if env is None else env
    return Wallet.load(None, env=env) if environ.get(ENV_WALLET) else None


class _WalletAuthWithApiKey(httpx.Auth):
    """Wallet signing, plus ``x-nosana-api`` on create only.

    The deployment manager reads a Nosana API key only there (deployment-manager-api.md §5.9,
    where it replaces the vault), so the key is not sent with any other request.
    """

    def __init__(self, wallet_auth: WalletAuth, api_key: str) -> None:
        ApiKeyAuth(api_key)  # the usual key checks; they never echo the key
        self._wallet_auth = wallet_auth
        self._api_key = api_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if request.method == "POST" and request.url.path.endswith(CREATE_PATH):
            request.headers[API_KEY_HEADER] = self._api_key
        yield from self._wallet_auth.auth_flow(request)

    def __reduce__(self) -> NoReturn:
        raise WalletError("the client's authentication holds credentials and cannot be pickled")

    def __repr__(self) -> str:
        return f"_WalletAuthWithApiKey({self._wallet_auth!r}, api_key=<redacted>)"


def _dm_auth(wallet: Wallet | None, api_key: str | None) -> httpx.Auth | None:
    if wallet is None or not wallet.can_sign:
        if api_key is not None:
            ApiKeyAuth(api_key)  # still reject a malformed key at construction
        return None
    wallet_auth = WalletAuth(wallet)
    return wallet_auth if api_key is None else _WalletAuthWithApiKey(wallet_auth, api_key)


def _pin_auth(network: NetworkConfig) -> ApiKeyAuth | None:
    return ApiKeyAuth(network.ipfs_jwt) if network.ipfs_jwt else None


def _http_shells(
    make: Callable[..., HTTPShell],
    network: NetworkConfig,
    wallet: Wallet | None,
    api_key: str | None,
    *,
    http_client: object,
    **common: Any,
) -> tuple[HTTPShell, HTTPShell, HTTPShell]:
    """The three HTTP shells of a client: (deployment manager, public, pinning).

    Each gets only its own credential; an injected ``http_client`` serves only the first.
    """
    base = network.api_url
    return (
        make(base, auth=_dm_auth(wallet, api_key), http_client=http_client, **common),
        make(base, **common),
        make(base, auth=_pin_auth(network), **common),
    )


class _ClientCore:
    """What both clients share beyond their I/O: the resolved network and wallet."""

    network: NetworkConfig
    wallet: Wallet | None

    def __repr__(self) -> str:
        owner = self.wallet.address if self.wallet is not None else None
        return f"{type(self).__name__}(network={self.network.name!r}, wallet={owner!r})"


class NosanaClient(_ClientCore):
    """The synchronous client. ``Client("devnet", wallet)`` mirrors the TypeScript SDK.

    ``wallet`` is anything ``Wallet.load`` accepts; ``None`` reads ``NOSANA_WALLET`` if set,
    otherwise the client is unauthenticated (markets, IPFS and stats still work).
    ``transport`` is used for every HTTP client (deployment manager, markets, IPFS, Solana RPC).
    """

    def __init__(
        self,
        network: str | NetworkConfig = "devnet",
        wallet: Any = None,
        *,
        solana: Mapping[str, Any] | None = None,
        deployments: Mapping[str, Any] | None = None,
        api_key: str | None = None,
        api_url: str | None = None,
        rpc_url: str | None = None,
        timeout: TimeoutArg = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_factor: float = DEFAULT_BACKOFF_FACTOR,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        allow_insecure_http: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.network = resolve_network(
            network,
            solana=solana,
            deployments=deployments,
            api_url=api_url,
            rpc_url=rpc_url,
            allow_insecure_http=allow_insecure_http,
            env=env,
        )
        self.wallet = _load_wallet(wallet, env)
        self._dm, self._public, self._pin = _http_shells(
            SyncHTTP,
            self.network,
            self.wallet,
            api_key,
            http_client=http_client,
            transport=transport,
            timeout=timeout,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
        )
        self.rpc = SolanaRPC(self.network.rpc_url, timeout=timeout, transport=transport)
        self.markets = Markets(self._public, self.network)
        self.jobs = Jobs(self._public, self._pin, self.network)
        self._services = SyncServices(
            dm=self._dm,
            network=self.network,
            wallet=self.wallet,
            rpc=self.rpc,
            markets=self.markets,
            jobs=self.jobs,
            uses_api_key=api_key is not None,
        )
        self.deployments = Deployments(self._services)
        self.vaults = Vaults(self._services)

    def stats(self) -> Stats:
        """The deployment manager's counters (``GET /stats``, unauthenticated)."""
        return routes.send(self._public, routes.get_stats())

    @property
    def retries_total(self) -> int:
        """Retries so far by the HTTP layers (deployment manager, public, pinning); not RPC."""
        return sum(http.retries_total for http in (self._dm, self._public, self._pin))

    def close(self) -> None:
        for http in (self._dm, self._public, self._pin):
            http.close()
        self.rpc.close()

    def __enter__(self) -> NosanaClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


Client = NosanaClient


class AsyncNosanaClient(_ClientCore):
    """The asyncio client: the same names as NosanaClient, awaited; ``async with`` closes it."""

    def __init__(
        self,
        network: str | NetworkConfig = "devnet",
        wallet: Any = None,
        *,
        solana: Mapping[str, Any] | None = None,
        deployments: Mapping[str, Any] | None = None,
        api_key: str | None = None,
        api_url: str | None = None,
        rpc_url: str | None = None,
        timeout: TimeoutArg = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_factor: float = DEFAULT_BACKOFF_FACTOR,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        allow_insecure_http: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.network = resolve_network(
            network,
            solana=solana,
            deployments=deployments,
            api_url=api_url,
            rpc_url=rpc_url,
            allow_insecure_http=allow_insecure_http,
            env=env,
        )
        self.wallet = _load_wallet(wallet, env)
        self._dm, self._public, self._pin = _http_shells(
            AsyncHTTP,
            self.network,
            self.wallet,
            api_key,
            http_client=http_client,
            transport=transport,
            timeout=timeout,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
        )
        self.rpc = AsyncSolanaRPC(self.network.rpc_url, timeout=timeout, transport=transport)
        self.markets = AsyncMarkets(self._public, self.network)
        self.jobs = AsyncJobs(self._public, self._pin, self.network)
        self._services = AsyncServices(
            dm=self._dm,
            network=self.network,
            wallet=self.wallet,
            rpc=self.rpc,
            markets=self.markets,
            jobs=self.jobs,
            uses_api_key=api_key is not None,
        )
        self.deployments = AsyncDeployments(self._services)
        self.vaults = AsyncVaults(self._services)

    async def stats(self) -> Stats:
        """The deployment manager's counters (``GET /stats``, unauthenticated)."""
        return await routes.asend(self._public, routes.get_stats())

    @property
    def retries_total(self) -> int:
        """Retries so far by the HTTP layers (deployment manager, public, pinning); not RPC."""
        return sum(http.retries_total for http in (self._dm, self._public, self._pin))

    async def aclose(self) -> None:
        for http in (self._dm, self._public, self._pin):
            await http.aclose()
        await self.rpc.close()

    async def __aenter__(self) -> AsyncNosanaClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
