"""Network presets, environment variables, seed-style overrides and the plain-http refusal."""

from __future__ import annotations

import dataclasses

import pytest

from nosana_nb.core.config import NETWORKS, NetworkConfig, local_network, resolve_network
from nosana_nb.core.errors import ConfigError


def test_mainnet_and_devnet_presets() -> None:
    main = resolve_network("mainnet", env={})
    assert main.api_url == "https://deployment-manager.k8s.prd.nos.ci"
    assert main.rpc_url == "https://api.mainnet-beta.solana.com"
    assert main.nos_mint == "nosXBVoaCTtYdLvKY6Csb4AC8JCdQKKAaWYtx2ZMoo7"
    assert main.markets_url == "https://dashboard.k8s.prd.nos.ci/api/markets"
    assert main.ipfs_gateway == "https://nosana.mypinata.cloud/ipfs/"
    assert main.ipfs_pin_url == "https://api.pinata.cloud/pinning/pinJSONToIPFS"
    assert main.frps_domain == "node.k8s.prd.nos.ci"
    dev = resolve_network("DevNet", env={})
    assert dev.api_url == "https://deployment-manager.k8s.dev.nos.ci"
    assert dev.rpc_url == "https://api.devnet.solana.com"
    assert dev.nos_mint == "devr1BGQndEW5k5zfvG5FsLyZv1Ap73vNgAHcQ9sUVP"
    assert dev.markets_url == "https://dashboard.k8s.dev.nos.ci/api/markets"
    assert dev.frps_domain == "node.k8s.dev.nos.ci"


def test_local_preset() -> None:
    local = resolve_network("local", env={})
    assert local.api_url == "http://127.0.0.1:3001"
    assert local.rpc_url == "http://127.0.0.1:3001/rpc"
    assert local.markets_url == "http://127.0.0.1:3001/api/markets"
    assert local.ipfs_gateway == "http://127.0.0.1:3001/ipfs/"
    assert local.ipfs_pin_url == "http://127.0.0.1:3001/pinning/pinJSONToIPFS"
    assert local.nos_mint == "FoBvDxW8FbD3Yg5ZDpnY64kuoFkD4gxYz8nbYP4o4PSB"  # the sandbox mint
    assert NETWORKS["local"] == local_network()


def test_local_endpoints_follow_a_new_api_url() -> None:
    local = resolve_network("local", api_url="http://localhost:45678/", env={})
    assert local.api_url == "http://localhost:45678"
    assert local.rpc_url == "http://localhost:45678/rpc"
    assert local.ipfs_gateway == "http://localhost:45678/ipfs/"
    explicit = resolve_network(
        "local", api_url="http://127.0.0.1:1", rpc_url="http://[::1]:2", env={}
    )
    assert explicit.rpc_url == "http://[::1]:2"


def test_replace_fills_the_sandbox_mint() -> None:
    filled = dataclasses.replace(
        NETWORKS["local"], nos_mint="So11111111111111111111111111111111111111112"
    )
    assert filled.nos_mint.startswith("So1")
    assert resolve_network(filled, env={}).nos_mint == filled.nos_mint


def test_env_vars_and_precedence() -> None:
    env = {
        "NOSANA_NETWORK": "devnet",
        "NOSANA_API_URL": "https://env-api.example",
        "NOSANA_RPC_URL": "https://env-rpc.example",
    }
    from_env = resolve_network(env=env)
    assert from_env.name == "devnet"
    assert from_env.api_url == "https://env-api.example"
    assert from_env.rpc_url == "https://env-rpc.example"
    explicit = resolve_network("mainnet", api_url="https://kw.example", env=env)
    assert explicit.name == "mainnet"
    assert explicit.api_url == "https://kw.example"
    assert explicit.rpc_url == "https://env-rpc.example"
    assert resolve_network(env={}).name == "mainnet"


def test_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOSANA_NETWORK", "local")
    monkeypatch.delenv("NOSANA_API_URL", raising=False)
    monkeypatch.delenv("NOSANA_RPC_URL", raising=False)
    assert resolve_network().name == "local"


def test_seed_keywords() -> None:
    config = resolve_network(
        "devnet",
        solana={"network": "https://api.mainnet-beta.solana.com"},
        deployments={"endpoint": "https://deployment-manager.k8s.prd.nos.ci"},
        env={},
    )
    assert config.rpc_url == "https://api.mainnet-beta.solana.com"
    assert config.api_url == "https://deployment-manager.k8s.prd.nos.ci"
    by_name = resolve_network("mainnet", solana={"network": "devnet"}, env={})
    assert by_name.rpc_url == "https://api.devnet.solana.com"
    keyword_wins = resolve_network(
        "devnet", deployments={"endpoint": "https://a.example"}, api_url="https://b.example", env={}
    )
    assert keyword_wins.api_url == "https://b.example"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"solana": {"endpoint": "x"}}, "accepts only the key 'network'"),
        ({"deployments": {"endpoint": 5}}, "must be a string"),
        ({"deployments": ["https://x"]}, "must be a mapping"),
    ],
)
def test_bad_seed_keywords(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        resolve_network("devnet", env={}, **kwargs)  # type: ignore[arg-type]


def test_unknown_network_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="devnet, local, mainnet"):
        resolve_network("testnet", env={})
    with pytest.raises(ConfigError, match="NOSANA_NETWORK"):
        resolve_network(env={"NOSANA_NETWORK": "moon"})
    with pytest.raises(ConfigError):
        resolve_network(42, env={})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:3001",
        "http://127.8.9.10",
        "http://localhost:8080",
        "http://LOCALHOST",
        "http://[::1]:3001",
    ],
)
def test_plain_http_to_loopback_is_fine(url: str) -> None:
    assert resolve_network("devnet", api_url=url, env={}).api_url == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://dm.example.com", "dm.example.com"),
        ("http://10.0.0.5:3001", "10.0.0.5"),
        ("http://localhost.evil.com", "localhost.evil.com"),
        ("http://128.0.0.1", "128.0.0.1"),
    ],
)
def test_plain_http_elsewhere_is_refused(url: str, host: str) -> None:
    with pytest.raises(ConfigError, match=host.replace(".", r"\.")) as info:
        resolve_network("devnet", api_url=url, env={})
    assert "allow_insecure_http" in str(info.value)
    allowed = resolve_network("devnet", api_url=url, allow_insecure_http=True, env={})
    assert allowed.allow_insecure_http is True


def test_insecure_rpc_from_env_is_refused() -> None:
    with pytest.raises(ConfigError, match="rpc_url"):
        resolve_network("devnet", env={"NOSANA_RPC_URL": "http://rpc.example"})


@pytest.mark.parametrize("url", ["ftp://x.example", "not a url", "https://", "", "   "])
def test_malformed_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        resolve_network("devnet", api_url=url or " ", env={})


def test_gateway_gets_a_trailing_slash_and_jwt_stays_out_of_repr() -> None:
    config = resolve_network(
        "devnet",
        ipfs_gateway="https://gw.example/ipfs",
        env={"NOSANA_IPFS_JWT": "eyJ.secret-jwt.value"},
    )
    assert config.ipfs_gateway == "https://gw.example/ipfs/"
    assert config.ipfs_jwt == "eyJ.secret-jwt.value"
    assert "secret-jwt" not in repr(config)
    assert "secret-jwt" not in str(config)


def test_config_is_frozen() -> None:
    config = NETWORKS["mainnet"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.api_url = "https://x"  # type: ignore[misc]
    assert isinstance(dataclasses.replace(config, name="custom"), NetworkConfig)
