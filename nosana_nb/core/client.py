"""NosanaClient and AsyncNosanaClient: the entry points, wiring options, wallet and HTTP.

Both are built from one frozen :class:`ClientOptions` by one constructor; they differ only in
the classes they wire (blocking or asyncio) and in how they close. ``with_options``/``copy``
and ``to_async``/``to_sync`` derive clients that keep every setting and count their retries
into the same ``retries_total``.

Credentials go only where they belong: the wallet signature only to the deployment manager,
the pinning JWT only to the pinning service; markets and the IPFS gateway get no credential.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, ClassVar, Generic, NoReturn, Self, TypeVar

import httpx

from nosana_nb.core import routes
from nosana_nb.core._shared.http import TimeoutArg
from nosana_nb.core.auth import ApiKeyAuth, WalletAuth
from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.credits import AsyncCredits, Credits
from nosana_nb.core.deployments import (
    AsyncDeployments,
    AsyncServices,
    AsyncVaults,
    Deployments,
    SyncServices,
    Vaults,
)
from nosana_nb.core.endpoints import AsyncEndpoints, Endpoints
from nosana_nb.core.errors import APIResponseValidationError, ValidationError, WalletError
from nosana_nb.core.http import AsyncHTTP, SyncHTTP
from nosana_nb.core.jobs import AsyncJobs, Jobs
from nosana_nb.core.markets import AsyncMarkets, Markets
from nosana_nb.core.models import Stats
from nosana_nb.core.options import AUTO, ClientOptions, DeadlineArg
from nosana_nb.core.retry_policy import (
    DEFAULT_BACKOFF_FACTOR,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_STREAM_IDLE_TIMEOUT,
    DEFAULT_TIMEOUT,
    RetryCounter,
    Sleeper,
)
from nosana_nb.core.service_clock import ServiceClock, last_seen_clock
from nosana_nb.core.solana_rpc import AsyncSolanaRPC, SolanaRPC
from nosana_nb.core.wallet import Wallet

__all__ = ["API_KEY_HEADER", "AsyncNosanaClient", "Client", "ClientOptions", "NosanaClient"]

API_KEY_HEADER = "x-nosana-api"
CREATE_PATH = "/deployments/create"
HEALTH_PATH = "/health"


def _needs_reading(clock: ServiceClock) -> bool:
    # a frozen sandbox clock only moves by hand (sandbox.advance), which sends no reply here
    return not clock.seen or clock.frozen


def _read(clock: ServiceClock) -> datetime:
    now = clock.now()
    if now is None:  # the health reply carried neither Date nor the sandbox's header
        raise APIResponseValidationError(
            f"the service at {HEALTH_PATH} sent no Date header: its time is unknown",
            method="GET",
            url=HEALTH_PATH,
        )
    return now


HTTPClientT = TypeVar("HTTPClientT", bound=httpx.Client | httpx.AsyncClient)
TransportT = TypeVar("TransportT", bound=httpx.BaseTransport | httpx.AsyncBaseTransport)


class _WalletAuthWithApiKey(httpx.Auth):
    """Wallet signing, plus ``x-nosana-api`` on create only.

    The deployment manager reads a Nosana API key only on ``POST /deployments/create``, where
    it pays for the deployment in place of a vault, so the key is sent with nothing else.
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
        return None
    wallet_auth = WalletAuth(wallet)
    return wallet_auth if api_key is None else _WalletAuthWithApiKey(wallet_auth, api_key)


def _credits_auth(wallet: Wallet | None, api_key: str | None) -> httpx.Auth | None:
    """Credits belong to the API key when there is one (``Bearer nos_...``), else the wallet."""
    return ApiKeyAuth(api_key) if api_key is not None else _dm_auth(wallet, None)


def _pin_auth(network: NetworkConfig) -> ApiKeyAuth | None:
    return ApiKeyAuth(network.ipfs_jwt) if network.ipfs_jwt else None


@dataclass(frozen=True)
class _Flavor:
    """The classes one kind of client wires together (blocking or asyncio)."""

    http: type[Any]
    rpc: type[Any]
    markets: type[Any]
    credits: type[Any]
    jobs: type[Any]
    services: type[Any]
    deployments: type[Any]
    vaults: type[Any]
    endpoints: type[Any]
    http_client: type[httpx.Client | httpx.AsyncClient]
    transport: type[httpx.BaseTransport | httpx.AsyncBaseTransport]


class _ClientCore(Generic[HTTPClientT, TransportT]):
    """What both clients share: one constructor, the options, derivation, the retry count."""

    _flavor: ClassVar[_Flavor]

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
        http_client: HTTPClientT | None = None,
        transport: TransportT | None = None,
        allow_insecure_http: bool = False,
        env: Mapping[str, str] | None = None,
        sleeper: Sleeper | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        deadline: DeadlineArg = AUTO,
        stream_idle_timeout: float | None = DEFAULT_STREAM_IDLE_TIMEOUT,
    ) -> None:
        """Build a client; nothing is sent until a method is called.

        Args:
            network: ``"mainnet"``, ``"devnet"``, ``"local"`` or a ready ``NetworkConfig``.
            wallet: anything ``Wallet.load`` accepts; None reads ``NOSANA_WALLET`` if set,
                else the client is unauthenticated.
            solana: the seed SDK's Solana settings, e.g. ``{"network": rpc_url}``.
            deployments: the seed SDK's deployment-manager settings, ``{"endpoint": url}``.
            api_key: a Nosana API key (credits), instead of wallet auth for the service.
            api_url: the deployment manager's URL (overrides the network's).
            rpc_url: the Solana RPC URL (overrides the network's).
            timeout: seconds per request, or an ``httpx.Timeout``.
            max_retries: retries per request (0 disables them).
            backoff_factor: the first retry's base wait in seconds; it doubles each retry.
            http_client: an httpx client of your own for the deployment manager.
            transport: an httpx transport for every HTTP client (tests, proxies).
            allow_insecure_http: allow plain ``http://`` to hosts other than loopback.
            env: the environment to read ``NOSANA_*`` from (default ``os.environ``).
            sleeper: how retries wait (tests pass one that moves a manual clock).
            max_response_bytes: the largest reply body (or stream event) accepted.
            deadline: seconds a request and its retries may take in all; ``"auto"`` is 4x the
                longest timeout; None for no deadline.
            stream_idle_timeout: seconds an event stream may send only heartbeats.

        Raises:
            ValidationError: a bad option, before anything is sent.
            ConfigError: an unknown network or an unsafe endpoint.
        """
        options = ClientOptions.resolve(
            network,
            wallet,
            solana=solana,
            deployments=deployments,
            api_key=api_key,
            api_url=api_url,
            rpc_url=rpc_url,
            timeout=timeout,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            http_client=http_client,
            transport=transport,
            allow_insecure_http=allow_insecure_http,
            env=env,
            sleeper=sleeper,
            max_response_bytes=max_response_bytes,
            deadline=deadline,
            stream_idle_timeout=stream_idle_timeout,
        )
        self._wire(options, RetryCounter(), None)

    @classmethod
    def from_options(
        cls,
        options: ClientOptions,
        *,
        retry_counter: RetryCounter | None = None,
        service_clock: ServiceClock | None = None,
    ) -> Self:
        """A client built from ready options.

        Args:
            options: the options (see :class:`ClientOptions`).
            retry_counter: share another client's retry count.
            service_clock: share another client's reading of the service's time.

        Returns:
            The client.

        Raises:
            ValidationError: ``options`` is not a ClientOptions, or does not suit this kind
                of client.
        """
        if not isinstance(options, ClientOptions):
            raise ValidationError(
                f"options must be a ClientOptions; got {type(options).__name__}",
                argument="options",
            )
        client = cls.__new__(cls)
        client._wire(
            options, retry_counter if retry_counter is not None else RetryCounter(), service_clock
        )
        return client

    @classmethod
    def check_options(cls, options: ClientOptions) -> None:
        """Check that this kind of client can be built from ``options``.

        Args:
            options: the options to check.

        Raises:
            ValidationError: an injected http_client or transport of the other kind (sync vs
                asyncio).
        """
        options.check_flavor(cls._flavor.http_client, cls._flavor.transport, cls.__name__)

    def _wire(
        self, options: ClientOptions, counter: RetryCounter, clock: ServiceClock | None
    ) -> None:
        flavor = self._flavor
        self.check_options(options)
        self._options = options
        self._retry_counter = counter
        # one clock per service: derived clients share it, and it feeds the process-wide one
        self._service_clock = clock or ServiceClock(forward_to=last_seen_clock())
        network = options.network
        common: dict[str, Any] = {
            "timeout": options.timeout,
            "max_retries": options.max_retries,
            "backoff_factor": options.backoff_factor,
            "transport": options.transport,
            "retry_counter": counter,
            "sleeper": options.sleeper,
            "max_response_bytes": options.max_response_bytes,
            "deadline": options.request_deadline,
        }
        # Each shell gets only its own credential; an injected http_client serves only the
        # deployment manager (it is the caller's, configured for that service).
        self._dm = flavor.http(
            network.api_url,
            auth=_dm_auth(options.wallet, options.api_key),
            http_client=options.http_client,
            service_clock=self._service_clock,
            stream_idle_timeout=options.stream_idle_timeout,
            **common,
        )
        self._public = flavor.http(network.api_url, service_clock=self._service_clock, **common)
        self._pin = flavor.http(network.api_url, auth=_pin_auth(network), **common)
        self.rpc = flavor.rpc(network.rpc_url, **common)
        self.markets = flavor.markets(self._public, network, self.rpc)
        self._credits_http = flavor.http(
            network.api_url, auth=_credits_auth(options.wallet, options.api_key), **common
        )
        self.credits = flavor.credits(self._credits_http, network)
        self.jobs = flavor.jobs(self._public, self._pin, network)
        self._services = flavor.services(
            dm=self._dm,
            network=network,
            wallet=options.wallet,
            rpc=self.rpc,
            markets=self.markets,
            jobs=self.jobs,
            uses_api_key=options.api_key is not None,
            credits=self.credits,
            retry_counter=counter,
            sleeper=options.sleeper,
            clock=self._service_clock,
        )
        self.deployments = flavor.deployments(self._services)
        self.vaults = flavor.vaults(self._services)
        self.endpoints = flavor.endpoints(self._services)

    @property
    def options(self) -> ClientOptions:
        """Everything this client was configured with (immutable)."""
        return self._options

    @property
    def network(self) -> NetworkConfig:
        """The network: its name and every endpoint."""
        return self._options.network

    @property
    def wallet(self) -> Wallet | None:
        """The wallet that signs, or None for an unauthenticated client."""
        return self._options.wallet

    @property
    def retry_counter(self) -> RetryCounter:
        """The retry count this client shares with the clients derived from it."""
        return self._retry_counter

    @property
    def pays_with_credits(self) -> bool:
        """True for an API-key client: its deployments are paid from credits, not a vault."""
        return self._options.api_key is not None

    @property
    def service_clock(self) -> ServiceClock:
        """The service's clock as this client's replies told it (shared with derived clients)."""
        return self._service_clock

    @property
    def retries_total(self) -> int:
        """Every retry so far: HTTP requests, Solana RPC calls, stream reconnects and POST
        reconciliations, by this client and the clients derived from it."""
        return self._retry_counter.total

    def copy(self, **changes: Any) -> Self:
        """A new client of the same kind with the same options, ``changes`` applied.

        Keyword names are those of :class:`ClientOptions` (``timeout=``, ``max_retries=``,
        ``api_key=``, ``transport=``, ...). The copy opens its own connections (or uses the same
        injected ``http_client``) and adds its retries to this client's ``retries_total``.

        Args:
            changes: the options to change.

        Returns:
            The new client.
        """
        options = self._options.replace(**changes)
        return type(self).from_options(
            options, retry_counter=self._retry_counter, service_clock=self._service_clock
        )

    def with_options(self, **changes: Any) -> Self:
        """Same as :meth:`copy`: ``client.with_options(timeout=5).markets.list()``.

        Args:
            changes: the options to change.

        Returns:
            The new client.
        """
        return self.copy(**changes)

    def __repr__(self) -> str:
        owner = self.wallet.address if self.wallet is not None else None
        return f"{type(self).__name__}(network={self.network.name!r}, wallet={owner!r})"


class NosanaClient(_ClientCore[httpx.Client, httpx.BaseTransport]):
    """The synchronous client. ``Client("devnet", wallet)`` mirrors the TypeScript SDK.

    ``wallet`` is anything ``Wallet.load`` accepts; ``None`` reads ``NOSANA_WALLET`` if set,
    otherwise the client is unauthenticated (markets, IPFS and stats still work).
    ``transport`` is used for every HTTP client (deployment manager, markets, IPFS, Solana RPC);
    an injected ``http_client`` for the deployment manager, and retried like the default one.
    ``sleeper`` decides how retries wait (tests pass one that moves a manual clock).
    """

    _flavor = _Flavor(
        http=SyncHTTP,
        rpc=SolanaRPC,
        markets=Markets,
        credits=Credits,
        jobs=Jobs,
        services=SyncServices,
        deployments=Deployments,
        vaults=Vaults,
        endpoints=Endpoints,
        http_client=httpx.Client,
        transport=httpx.BaseTransport,
    )
    _dm: SyncHTTP
    _public: SyncHTTP
    _pin: SyncHTTP
    _services: SyncServices
    rpc: SolanaRPC
    markets: Markets
    credits: Credits
    jobs: Jobs
    deployments: Deployments
    vaults: Vaults
    endpoints: Endpoints

    def to_async(self, **changes: Any) -> AsyncNosanaClient:
        """The asyncio twin: the same options (``changes`` applied) and the same retry count.

        An injected ``httpx.Client`` cannot serve asyncio code: pass ``http_client=`` an
        ``httpx.AsyncClient`` (or None); a transport must implement the async interface too.

        Args:
            changes: the options to change.

        Returns:
            The async client.
        """
        options = self._options.replace(**changes)
        return AsyncNosanaClient.from_options(
            options, retry_counter=self._retry_counter, service_clock=self._service_clock
        )

    def stats(self) -> Stats:
        """The deployment manager's counters (``GET /stats``, unauthenticated).

        Returns:
            The counters.
        """
        return routes.send(self._public, routes.get_stats())

    def now(self) -> datetime:
        """The service's time (UTC): the sandbox's simulated clock, or the real server's.

        Extrapolated from the newest reply at the service's rate; asks the service
        (``GET /health``) when no reply has told it yet, or when a frozen sandbox clock may
        have been moved by hand since.

        Returns:
            The service's now, tz-aware UTC.
        """
        if _needs_reading(self._service_clock):
            self._public.request("GET", HEALTH_PATH, expect="text")
        return _read(self._service_clock)

    def close(self) -> None:
        """Close every connection (``with Client(...) as client:`` does it for you)."""
        for http in (self._dm, self._public, self._pin, self._credits_http):
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


class AsyncNosanaClient(_ClientCore[httpx.AsyncClient, httpx.AsyncBaseTransport]):
    """The asyncio client: the same names as NosanaClient, awaited; ``async with`` closes it."""

    _flavor = _Flavor(
        http=AsyncHTTP,
        rpc=AsyncSolanaRPC,
        markets=AsyncMarkets,
        credits=AsyncCredits,
        jobs=AsyncJobs,
        services=AsyncServices,
        deployments=AsyncDeployments,
        vaults=AsyncVaults,
        endpoints=AsyncEndpoints,
        http_client=httpx.AsyncClient,
        transport=httpx.AsyncBaseTransport,
    )
    _dm: AsyncHTTP
    _public: AsyncHTTP
    _pin: AsyncHTTP
    _services: AsyncServices
    rpc: AsyncSolanaRPC
    markets: AsyncMarkets
    credits: AsyncCredits
    jobs: AsyncJobs
    deployments: AsyncDeployments
    vaults: AsyncVaults
    endpoints: AsyncEndpoints

    def to_sync(self, **changes: Any) -> NosanaClient:
        """The blocking twin: the same options (``changes`` applied) and the same retry count.

        An injected ``httpx.AsyncClient`` cannot serve blocking code: pass ``http_client=`` an
        ``httpx.Client`` (or None); a transport must implement the sync interface too.

        Args:
            changes: the options to change.

        Returns:
            The sync client.
        """
        options = self._options.replace(**changes)
        return NosanaClient.from_options(
            options, retry_counter=self._retry_counter, service_clock=self._service_clock
        )

    async def stats(self) -> Stats:
        """The deployment manager's counters (``GET /stats``, unauthenticated).

        Returns:
            The counters.
        """
        return await routes.asend(self._public, routes.get_stats())

    async def now(self) -> datetime:
        """The service's time (UTC); see :meth:`NosanaClient.now`.

        Returns:
            The service's now, tz-aware UTC.
        """
        if _needs_reading(self._service_clock):
            await self._public.request("GET", HEALTH_PATH, expect="text")
        return _read(self._service_clock)

    async def aclose(self) -> None:
        """Close every connection (``async with`` does it for you)."""
        for http in (self._dm, self._public, self._pin, self._credits_http):
            await http.aclose()
        await self.rpc.aclose()

    async def __aenter__(self) -> AsyncNosanaClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
