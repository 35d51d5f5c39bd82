"""Network presets (mainnet, devnet, the local sandbox) and how overrides are resolved."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from nosana_nb.core.errors import ConfigError

__all__ = [
    "ENV_API_URL",
    "ENV_IPFS_JWT",
    "ENV_NETWORK",
    "ENV_RPC_URL",
    "LOCAL_API_URL",
    "LOCAL_NOS_MINT",
    "NETWORKS",
    "NetworkConfig",
    "check_url",
    "local_network",
    "refuse_credentials",
    "resolve_network",
]

ENV_NETWORK = "NOSANA_NETWORK"
ENV_API_URL = "NOSANA_API_URL"
ENV_RPC_URL = "NOSANA_RPC_URL"
ENV_IPFS_JWT = "NOSANA_IPFS_JWT"

LOCAL_API_URL = "http://127.0.0.1:3001"
LOCAL_NOS_MINT = "FoBvDxW8FbD3Yg5ZDpnY64kuoFkD4gxYz8nbYP4o4PSB"
"""The sandbox derives its NOS mint from a fixed seed, so the local preset can name it."""
_PINATA_GATEWAY = "https://nosana.mypinata.cloud/ipfs/"
LOCAL_FRPS_DOMAIN = "node.k8s.dev.nos.ci"
"""The sandbox's default endpoint domain (``sandbox.start(frps_domain=)``)."""
_PINATA_PIN_JSON = "https://api.pinata.cloud/pinning/pinJSONToIPFS"


@dataclass(frozen=True)
class NetworkConfig:
    """Every endpoint of one Nosana network. Immutable: derive variants with dataclasses.replace."""

    name: str
    api_url: str
    rpc_url: str
    nos_mint: str
    markets_url: str
    ipfs_gateway: str
    ipfs_pin_url: str
    ipfs_jwt: str | None = dataclasses.field(default=None, repr=False)
    frps_domain: str = ""
    allow_insecure_http: bool = False


def local_network(
    api_url: str = LOCAL_API_URL,
    *,
    nos_mint: str = LOCAL_NOS_MINT,
    frps_domain: str = LOCAL_FRPS_DOMAIN,
) -> NetworkConfig:
    """The sandbox preset: every service lives under one local base URL.

    The sandbox derives its NOS mint from a fixed seed, so its address is known in advance.
    Its endpoint URLs keep the devnet domain (``https://<hash>.node.k8s.dev.nos.ci``); the
    endpoint probes send those to the sandbox instead of resolving them.

    Args:
        api_url: the sandbox's base URL.
        nos_mint: the sandbox's NOS mint.
        frps_domain: the domain of the sandbox's endpoint URLs.

    Returns:
        The network configuration.
    """
    api = api_url.rstrip("/")
    return NetworkConfig(
        name="local",
        api_url=api,
        rpc_url=f"{api}/rpc",
        nos_mint=nos_mint,
        markets_url=f"{api}/api/markets",
        ipfs_gateway=f"{api}/ipfs/",
        ipfs_pin_url=f"{api}/pinning/pinJSONToIPFS",
        frps_domain=frps_domain,
    )


NETWORKS: dict[str, NetworkConfig] = {
    "mainnet": NetworkConfig(
        name="mainnet",
        api_url="https://deployment-manager.k8s.prd.nos.ci",
        rpc_url="https://api.mainnet-beta.solana.com",
        nos_mint="nosXBVoaCTtYdLvKY6Csb4AC8JCdQKKAaWYtx2ZMoo7",
        markets_url="https://dashboard.k8s.prd.nos.ci/api/markets",
        ipfs_gateway=_PINATA_GATEWAY,
        ipfs_pin_url=_PINATA_PIN_JSON,
        frps_domain="node.k8s.prd.nos.ci",
    ),
    "devnet": NetworkConfig(
        name="devnet",
        api_url="https://deployment-manager.k8s.dev.nos.ci",
        rpc_url="https://api.devnet.solana.com",
        nos_mint="devr1BGQndEW5k5zfvG5FsLyZv1Ap73vNgAHcQ9sUVP",
        markets_url="https://dashboard.k8s.dev.nos.ci/api/markets",
        ipfs_gateway=_PINATA_GATEWAY,
        ipfs_pin_url=_PINATA_PIN_JSON,
        frps_domain="node.k8s.dev.nos.ci",
    ),
    "local": local_network(),
}


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refuse_credentials(url: str, *, field: str) -> None:
    """Raise ConfigError if ``url`` carries ``user:password@``, without repeating either.

    URLs reach exception messages, DEBUG logs and reprs; a password inside one would too.
    Checked by hand before any parsing, as a parser's error could quote the URL.
    """
    after_scheme = url.partition("://")[2] if "://" in url else url
    authority = after_scheme
    for end in "/?#":
        authority = authority.partition(end)[0]
    if "@" in authority:
        raise ConfigError(
            f"{field} holds credentials (user:password@host), which would show in errors, logs "
            "and reprs; remove them from the URL (the deployment manager authenticates with "
            "your wallet, an API key goes in api_key=)"
        )


def check_url(url: str, *, field: str, allow_insecure_http: bool) -> str:
    """Return ``url`` without a trailing slash, or raise ConfigError saying what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{field} must be an http(s) URL; got {type(url).__name__} {url!r}")
    refuse_credentials(url, field=field)
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL as err:
        raise ConfigError(f"{field} is not a valid URL: {err}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(
            f"{field} must start with https:// (or http:// for a local service) and name a host"
        )
    if parsed.scheme == "http" and not allow_insecure_http and not _is_loopback(parsed.host):
        raise ConfigError(
            f"{field} uses plain http:// to {parsed.host!r}, which would send your signed "
            "credentials unencrypted. Use https://, a loopback host (127.0.0.1, ::1, localhost), "
            "or pass allow_insecure_http=True if you really mean it."
        )
    return url.strip().rstrip("/")


def _seed_value(options: Mapping[str, Any] | None, key: str, argument: str) -> str | None:
    if options is None:
        return None
    if not isinstance(options, Mapping):
        raise ConfigError(f"{argument} must be a mapping like {{{key!r}: url}}")
    unknown = set(options) - {key}
    if unknown:
        raise ConfigError(f"{argument} accepts only the key {key!r}; got {sorted(unknown)}")
    value = options.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{argument}[{key!r}] must be a string URL")
    return value


def _preset(name: str, *, source: str) -> NetworkConfig:
    key = name.strip().lower()
    if key not in NETWORKS:
        allowed = ", ".join(sorted(NETWORKS))
        raise ConfigError(f"unknown network {name!r} from {source}; choose one of {allowed}")
    return NETWORKS[key]


def _check_options(
    env: Mapping[str, str] | None, allow_insecure_http: bool, **urls: str | None
) -> Mapping[str, str]:
    """Refuse option types that would otherwise be misread (``"no"`` is truthy; ``""`` is unset)."""
    if env is not None and not isinstance(env, Mapping):
        raise ConfigError(
            f"env must be a mapping of environment variables; got {type(env).__name__}"
        )
    if not isinstance(allow_insecure_http, bool):
        raise ConfigError(
            f"allow_insecure_http must be True or False; got {type(allow_insecure_http).__name__}"
        )
    for field, url in urls.items():
        if url is not None and (not isinstance(url, str) or not url.strip()):
            raise ConfigError(
                f"{field} must be an http(s) URL or None; got {type(url).__name__} {url!r}"[:200]
            )
    return os.environ if env is None else env


def _first(*values: str | None) -> str | None:
    return next((value for value in values if value), None)


def resolve_network(
    network: str | NetworkConfig | None = None,
    *,
    solana: Mapping[str, Any] | None = None,
    deployments: Mapping[str, Any] | None = None,
    api_url: str | None = None,
    rpc_url: str | None = None,
    markets_url: str | None = None,
    ipfs_gateway: str | None = None,
    ipfs_pin_url: str | None = None,
    ipfs_jwt: str | None = None,
    allow_insecure_http: bool = False,
    env: Mapping[str, str] | None = None,
) -> NetworkConfig:
    """Pick a preset and apply overrides: explicit keyword > seed keyword > env var > preset.

    ``solana={"network": url_or_preset}`` and ``deployments={"endpoint": url}`` mirror the
    TypeScript SDK's options. When the local preset's API URL changes, its other endpoints follow.

    Args:
        network: ``"mainnet"``, ``"devnet"``, ``"local"``, a ready ``NetworkConfig``, or None
            for ``NOSANA_NETWORK`` (default devnet).
        solana: the seed SDK's Solana settings.
        deployments: the seed SDK's deployment-manager settings.
        api_url: the deployment manager's URL.
        rpc_url: the Solana RPC URL.
        markets_url: the markets API's URL.
        ipfs_gateway: the IPFS gateway's URL.
        ipfs_pin_url: the IPFS pinning URL.
        ipfs_jwt: the IPFS pinning token.
        allow_insecure_http: allow plain ``http://`` to hosts other than loopback.
        env: the environment to read ``NOSANA_*`` from (default ``os.environ``).

    Returns:
        The network with every endpoint.

    Raises:
        ConfigError: an unknown preset, or an endpoint that is not a safe URL.
    """
    environ = _check_options(
        env,
        allow_insecure_http,
        api_url=api_url,
        rpc_url=rpc_url,
        markets_url=markets_url,
        ipfs_gateway=ipfs_gateway,
        ipfs_pin_url=ipfs_pin_url,
    )
    if isinstance(network, NetworkConfig):
        base = network
    elif network is None:
        base = _preset(environ.get(ENV_NETWORK) or "mainnet", source=ENV_NETWORK)
    elif isinstance(network, str):
        base = _preset(network, source="the network argument")
    else:
        raise ConfigError(
            f"network must be a preset name or NetworkConfig; got {type(network).__name__}"
        )

    seed_rpc = _seed_value(solana, "network", "solana")
    if seed_rpc and seed_rpc.strip().lower() in NETWORKS:
        seed_rpc = NETWORKS[seed_rpc.strip().lower()].rpc_url
    seed_api = _seed_value(deployments, "endpoint", "deployments")

    new_api = _first(api_url, seed_api, environ.get(ENV_API_URL))
    if base.name == "local" and new_api:
        local = local_network(new_api, nos_mint=base.nos_mint)
        base = dataclasses.replace(
            base,
            api_url=local.api_url,
            rpc_url=local.rpc_url,
            markets_url=local.markets_url,
            ipfs_gateway=local.ipfs_gateway,
            ipfs_pin_url=local.ipfs_pin_url,
        )

    insecure = allow_insecure_http or base.allow_insecure_http
    gateway = _first(ipfs_gateway, base.ipfs_gateway) or ""
    resolved = dataclasses.replace(
        base,
        api_url=_first(new_api, base.api_url) or "",
        rpc_url=_first(rpc_url, seed_rpc, environ.get(ENV_RPC_URL), base.rpc_url) or "",
        markets_url=_first(markets_url, base.markets_url) or "",
        ipfs_gateway=gateway,
        ipfs_pin_url=_first(ipfs_pin_url, base.ipfs_pin_url) or "",
        ipfs_jwt=_first(ipfs_jwt, environ.get(ENV_IPFS_JWT), base.ipfs_jwt),
        allow_insecure_http=insecure,
    )
    return dataclasses.replace(
        resolved,
        api_url=check_url(resolved.api_url, field="api_url", allow_insecure_http=insecure),
        rpc_url=check_url(resolved.rpc_url, field="rpc_url", allow_insecure_http=insecure),
        markets_url=check_url(
            resolved.markets_url, field="markets_url", allow_insecure_http=insecure
        ),
        ipfs_gateway=check_url(gateway, field="ipfs_gateway", allow_insecure_http=insecure) + "/",
        ipfs_pin_url=check_url(
            resolved.ipfs_pin_url, field="ipfs_pin_url", allow_insecure_http=insecure
        ),
    )
