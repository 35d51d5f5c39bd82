"""ClientOptions: everything a client is configured with, resolved and checked once.

Both clients are built from one frozen options object, so ``with_options``/``copy`` and the
``to_async``/``to_sync`` conversions carry every setting - network, wallet, API key, timeout,
retries, backoff, transport or injected httpx client, the insecure-http opt-in and the sleeper -
instead of rebuilding a client from its network and wallet alone.

Three limits keep a hostile or broken server from hurting the kernel: ``max_response_bytes``
(the largest reply body or stream event read), ``deadline`` (seconds one request may take in
all, retries included; "auto" is 4x the longest timeout) and ``stream_idle_timeout`` (seconds
a stream may send nothing but heartbeats).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NoReturn

import httpx

from nosana_nb.core._shared.http import TimeoutArg, check_timeout
from nosana_nb.core.auth import ApiKeyAuth
from nosana_nb.core.config import NetworkConfig, resolve_network
from nosana_nb.core.errors import ValidationError, WalletError
from nosana_nb.core.retry_policy import (
    DEFAULT_BACKOFF_FACTOR,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_SLEEPER,
    DEFAULT_STREAM_IDLE_TIMEOUT,
    DEFAULT_TIMEOUT,
    Sleeper,
    check_backoff_factor,
    check_deadline,
    check_max_response_bytes,
    check_max_retries,
    check_stream_idle_timeout,
    derive_deadline,
)
from nosana_nb.core.wallet import ENV_WALLET, Wallet

__all__ = ["ClientOptions"]

AUTO: Final = "auto"
DeadlineArg = float | Literal["auto"] | None

HTTPClient = httpx.Client | httpx.AsyncClient
Transport = httpx.BaseTransport | httpx.AsyncBaseTransport


def _load_wallet(wallet: Any, env: Mapping[str, str] | None) -> Wallet | None:
    if wallet is not None:
        return Wallet.load(wallet, env=env)
    environ = os.environ if env is None else env
    return Wallet.load(None, env=env) if environ.get(ENV_WALLET) else None


def _check_api_key(api_key: str | None) -> str | None:
    if api_key is not None:
        ApiKeyAuth(api_key)  # the usual key checks; they never echo the key
    return api_key


def _check_sleeper(sleeper: Any) -> Sleeper:
    if sleeper is None:
        return DEFAULT_SLEEPER
    if not isinstance(sleeper, Sleeper):
        raise ValidationError(
            "sleeper must be a nosana_nb.core.retry_policy.Sleeper", argument="sleeper"
        )
    return sleeper


def _check_bool(value: Any, argument: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{argument} must be True or False", argument=argument)
    return value


def _check_deadline_option(deadline: Any) -> DeadlineArg:
    return AUTO if deadline == AUTO else check_deadline(deadline)


def _kind(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__name__}"


@dataclass(frozen=True)
class ClientOptions:
    """A client's whole configuration, immutable. ``api_key`` never appears in a repr.

    Build a changed copy with :meth:`replace` (or ``client.with_options(...)``); a client and
    its sync/async twin share one of these.
    """

    network: NetworkConfig
    wallet: Wallet | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    max_retries: int = DEFAULT_MAX_RETRIES
    backoff_factor: float = DEFAULT_BACKOFF_FACTOR
    transport: Transport | None = None
    http_client: HTTPClient | None = None
    allow_insecure_http: bool = False
    sleeper: Sleeper = DEFAULT_SLEEPER
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    deadline: DeadlineArg = AUTO
    stream_idle_timeout: float | None = DEFAULT_STREAM_IDLE_TIMEOUT

    @property
    def request_deadline(self) -> float | None:
        """Seconds one request may take in all (``deadline``, with "auto" worked out)."""
        if self.deadline == AUTO:
            return derive_deadline(self.timeout)
        return self.deadline if not isinstance(self.deadline, str) else None

    @classmethod
    def resolve(
        cls,
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
        http_client: HTTPClient | None = None,
        transport: Transport | None = None,
        allow_insecure_http: bool = False,
        env: Mapping[str, str] | None = None,
        sleeper: Sleeper | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        deadline: DeadlineArg = AUTO,
        stream_idle_timeout: float | None = DEFAULT_STREAM_IDLE_TIMEOUT,
    ) -> ClientOptions:
        """Resolve a client's constructor arguments (presets, overrides, environment) once.

        Args:
            network: ``"mainnet"``, ``"devnet"``, ``"local"`` or a ready ``NetworkConfig``.
            wallet: anything ``Wallet.load`` accepts; None reads ``NOSANA_WALLET`` if set.
            solana: the seed SDK's Solana settings, e.g. ``{"network": rpc_url}``.
            deployments: the seed SDK's deployment-manager settings, ``{"endpoint": url}``.
            api_key: a Nosana API key (credits).
            api_url: the deployment manager's URL (overrides the network's).
            rpc_url: the Solana RPC URL (overrides the network's).
            timeout: seconds per request, or an ``httpx.Timeout``.
            max_retries: retries per request.
            backoff_factor: the first retry's base wait in seconds.
            http_client: an httpx client of your own for the deployment manager.
            transport: an httpx transport for every HTTP client.
            allow_insecure_http: allow plain ``http://`` to hosts other than loopback.
            env: the environment to read ``NOSANA_*`` from (default ``os.environ``).
            sleeper: how retries wait.
            max_response_bytes: the largest reply body accepted.
            deadline: seconds a request and its retries may take; ``"auto"`` or None.
            stream_idle_timeout: seconds an event stream may send only heartbeats.

        Returns:
            The checked options.
        """
        resolved = resolve_network(
            network,
            solana=solana,
            deployments=deployments,
            api_url=api_url,
            rpc_url=rpc_url,
            allow_insecure_http=allow_insecure_http,
            env=env,
        )
        return cls._checked(
            network=resolved,
            wallet=_load_wallet(wallet, env),
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            transport=transport,
            http_client=http_client,
            allow_insecure_http=allow_insecure_http,
            sleeper=sleeper,
            max_response_bytes=max_response_bytes,
            deadline=deadline,
            stream_idle_timeout=stream_idle_timeout,
        )

    @classmethod
    def _checked(cls, **values: Any) -> ClientOptions:
        if values["http_client"] is not None and values["transport"] is not None:
            raise ValidationError(
                "pass either http_client or transport, not both (the client has its transport)",
                argument="transport",
            )
        if values["http_client"] is not None and not isinstance(values["http_client"], HTTPClient):
            raise ValidationError(
                f"http_client must be an httpx.Client or httpx.AsyncClient; got "
                f"{type(values['http_client']).__name__}",
                argument="http_client",
            )
        if values["transport"] is not None and not isinstance(values["transport"], Transport):
            raise ValidationError(
                f"transport must be an httpx transport; got {type(values['transport']).__name__}",
                argument="transport",
            )
        return cls(
            network=values["network"],
            wallet=values["wallet"],
            api_key=_check_api_key(values["api_key"]),
            timeout=check_timeout(values["timeout"]),
            max_retries=check_max_retries(values["max_retries"]),
            backoff_factor=check_backoff_factor(values["backoff_factor"]),
            transport=values["transport"],
            http_client=values["http_client"],
            allow_insecure_http=_check_bool(values["allow_insecure_http"], "allow_insecure_http"),
            sleeper=_check_sleeper(values["sleeper"]),
            max_response_bytes=check_max_response_bytes(values["max_response_bytes"]),
            deadline=_check_deadline_option(values["deadline"]),
            stream_idle_timeout=check_stream_idle_timeout(values["stream_idle_timeout"]),
        )

    def replace(self, **changes: Any) -> ClientOptions:
        """A copy with ``changes`` applied and checked like constructor arguments.

        ``network`` may be a preset name or a NetworkConfig (environment variables are read
        only when a client is first built); ``wallet`` anything ``Wallet.load`` accepts, or
        None for no wallet.

        Args:
            changes: option names (the fields of this class) and their new values.

        Returns:
            The new options.

        Raises:
            ValidationError: an unknown option name or a bad value.
        """
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValidationError(
                f"unknown client option(s) {', '.join(unknown)}; "
                f"choose from {', '.join(sorted(names))}",
                argument=unknown[0],
            )
        values = {name: getattr(self, name) for name in names} | changes
        insecure = _check_bool(values["allow_insecure_http"], "allow_insecure_http")
        if "network" in changes or "allow_insecure_http" in changes:
            values["network"] = resolve_network(
                values["network"], allow_insecure_http=insecure, env={}
            )
        if "wallet" in changes and changes["wallet"] is not None:
            values["wallet"] = Wallet.load(changes["wallet"], env={})
        return self._checked(**values)

    def check_flavor(self, client_type: type, transport_type: type, client_name: str) -> None:
        """Refuse an injected client or transport the sync (or async) client cannot drive.

        Args:
            client_type: the httpx client class the client drives.
            transport_type: the httpx transport class the client drives.
            client_name: the client's class name, for the message.

        Raises:
            ValidationError: the injected client or transport is of the other kind.
        """
        if self.http_client is not None and not isinstance(self.http_client, client_type):
            raise ValidationError(
                f"{client_name} needs an {client_type.__module__}.{client_type.__name__} as "
                f"http_client; these options hold an {_kind(self.http_client)}. Pass a matching "
                "http_client=... (or http_client=None) with the conversion",
                argument="http_client",
            )
        if self.transport is not None and not isinstance(self.transport, transport_type):
            raise ValidationError(
                f"{client_name} needs an {transport_type.__module__}.{transport_type.__name__} "
                f"as transport; these options hold an {_kind(self.transport)}. Use a transport "
                "implementing both (like httpx.MockTransport), or pass transport=... with the "
                "conversion",
                argument="transport",
            )

    def __reduce__(self) -> NoReturn:
        raise WalletError("client options may hold an API key and cannot be pickled")
