"""Wallet loading from every supported format, signing, and secret hygiene."""

from __future__ import annotations

import base64
import copy
import json
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
from solders.null_signer import NullSigner
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from nosana_nb.core.errors import WalletError
from nosana_nb.core.wallet import Wallet

SEED = bytes(range(1, 33))
KEYPAIR = Keypair.from_seed(SEED)
SECRET_BYTES = bytes(KEYPAIR)
SECRET_B58 = str(KEYPAIR)
SECRET_JSON = json.dumps(list(SECRET_BYTES))
ADDRESS = str(KEYPAIR.pubkey())


def secret_forms() -> list[str]:
    """Every textual form the secret could leak in."""
    compact_json = json.dumps(list(SECRET_BYTES), separators=(",", ":"))
    return [
        SECRET_B58,
        SECRET_JSON,
        compact_json,
        SECRET_JSON[1:40],
        SECRET_BYTES.hex(),
        SEED.hex(),
        base64.b64encode(SECRET_BYTES).decode(),
        base64.b64encode(SEED).decode(),
        repr(SECRET_BYTES),
        repr(SEED),
    ]


def assert_no_secret(text: str) -> None:
    for form in secret_forms():
        assert form not in text, f"secret leaked in: {text[:200]!r}"


def test_from_keypair_and_generate() -> None:
    wallet = Wallet.from_keypair(KEYPAIR)
    assert wallet.address == ADDRESS
    assert wallet.pubkey == KEYPAIR.pubkey()
    assert wallet.can_sign
    fresh = Wallet.generate()
    assert fresh.can_sign
    assert fresh != wallet


@pytest.mark.parametrize(
    "source",
    [
        KEYPAIR,
        SECRET_BYTES,
        bytearray(SECRET_BYTES),
        list(SECRET_BYTES),
        tuple(SECRET_BYTES),
        SECRET_JSON,
        "  " + SECRET_JSON + "\n",
        SECRET_B58,
        SECRET_B58 + "\n",
    ],
    ids=["keypair", "bytes", "bytearray", "list", "tuple", "json", "json-ws", "b58", "b58-nl"],
)
def test_load_every_secret_format(source: object) -> None:
    wallet = Wallet.load(source)
    assert wallet.address == ADDRESS
    assert wallet.can_sign


def test_load_returns_the_same_wallet_object() -> None:
    wallet = Wallet.from_keypair(KEYPAIR)
    assert Wallet.load(wallet) is wallet


def test_load_id_json_file(tmp_path: Path) -> None:
    key_file = tmp_path / "id.json"
    key_file.write_text(SECRET_JSON)
    assert Wallet.load(key_file).address == ADDRESS
    assert Wallet.load(str(key_file)).address == ADDRESS
    assert Wallet.from_path(key_file).address == ADDRESS


def test_load_from_nosana_wallet_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "wallet.json"
    key_file.write_text(SECRET_JSON)
    assert Wallet.load(env={"NOSANA_WALLET": str(key_file)}).address == ADDRESS
    assert Wallet.load(env={"NOSANA_WALLET": SECRET_B58}).address == ADDRESS
    monkeypatch.setenv("NOSANA_WALLET", SECRET_JSON)
    assert Wallet.load().address == ADDRESS


def test_missing_env_explains_what_to_do() -> None:
    with pytest.raises(WalletError, match="NOSANA_WALLET is not set"):
        Wallet.load(env={})


def test_public_key_gives_read_only_wallet() -> None:
    for source in (ADDRESS, KEYPAIR.pubkey(), " " + ADDRESS):
        wallet = Wallet.load(source)
        assert not wallet.can_sign
        assert wallet.address == ADDRESS
    assert Wallet.read_only(ADDRESS) == Wallet.from_keypair(KEYPAIR)


def test_read_only_refuses_to_sign() -> None:
    wallet = Wallet.read_only(ADDRESS)
    with pytest.raises(WalletError, match="read-only"):
        wallet.sign_message(b"hello")
    with pytest.raises(WalletError, match="read-only"):
        wallet.keypair_for_signing()
    with pytest.raises(WalletError, match="read-only"):
        wallet.sign_transaction(b"\x00")


def test_sign_message_verifies() -> None:
    wallet = Wallet.from_keypair(KEYPAIR)
    signature = wallet.sign_message(b"NosanaApiAuthentication")
    assert signature.verify(KEYPAIR.pubkey(), b"NosanaApiAuthentication")
    assert not signature.verify(KEYPAIR.pubkey(), b"other")
    with pytest.raises(WalletError):
        wallet.sign_message("text")  # type: ignore[arg-type]


def _partially_signed_withdraw(owner: Pubkey, vault: Keypair) -> VersionedTransaction:
    """Like the service's withdraw: owner pays the fee, the vault signs, owner slot left open."""
    transfer = Instruction(
        Pubkey.from_string("11111111111111111111111111111111"),
        bytes(12),
        [AccountMeta(vault.pubkey(), True, True), AccountMeta(owner, False, True)],
    )
    message = MessageV0.try_compile(owner, [transfer], [], Hash.default())
    return VersionedTransaction(message, [NullSigner(owner), vault])


def test_sign_transaction_fills_the_owner_slot() -> None:
    wallet = Wallet.from_keypair(KEYPAIR)
    vault = Keypair()
    partial = _partially_signed_withdraw(wallet.pubkey, vault)
    for tx in (partial, bytes(partial)):
        signed = wallet.sign_transaction(tx)
        payload = to_bytes_versioned(signed.message)
        assert signed.signatures[0].verify(wallet.pubkey, payload)
        assert signed.signatures[1].verify(vault.pubkey(), payload)
        assert signed.verify_with_results() == [True, True]


def test_sign_transaction_refuses_foreign_or_garbage() -> None:
    stranger = Wallet.generate()
    partial = _partially_signed_withdraw(Keypair().pubkey(), Keypair())
    with pytest.raises(WalletError, match="not a required signer"):
        stranger.sign_transaction(partial)
    with pytest.raises(WalletError, match="not a serialized"):
        stranger.sign_transaction(b"\x01\x02garbage")
    with pytest.raises(WalletError):
        stranger.sign_transaction("base64?")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        SECRET_B58[:-3],
        SECRET_B58 + "1",
        SECRET_B58.replace(SECRET_B58[5], "0"),
        SECRET_JSON[:-1],
        json.dumps(list(SECRET_BYTES)[:63]),
        json.dumps([*list(SECRET_BYTES)[:63], 256]),
        json.dumps([*list(SECRET_BYTES)[:63], True]),
        json.dumps({"secret": list(SECRET_BYTES)}),
        SECRET_BYTES[:32],
        SECRET_BYTES[:32] + bytes(32),
        [*SECRET_BYTES[:63], -1],
        "",
        "not a key at all",
    ],
)
def test_bad_key_material_never_echoes_input(bad: object) -> None:
    with pytest.raises(WalletError) as info:
        Wallet.load(bad)
    err = info.value
    text = str(err) + repr(err) + repr(err.args)
    assert_no_secret(text)
    if isinstance(bad, str) and len(bad) > 8:
        assert bad.strip() not in text
    # no chained exception keeps the input either (JSONDecodeError keeps the whole document)
    chained = err.__cause__ or err.__context__
    while chained is not None:
        assert_no_secret(str(chained) + repr(getattr(chained, "doc", "")))
        chained = chained.__cause__ or chained.__context__


def test_bad_file_contents_do_not_echo(tmp_path: Path) -> None:
    key_file = tmp_path / "id.json"
    key_file.write_text(SECRET_JSON[:-5])
    with pytest.raises(WalletError, match="not a Solana key file") as info:
        Wallet.load(key_file)
    assert_no_secret(str(info.value))
    with pytest.raises(WalletError, match="not found"):
        Wallet.load(tmp_path / "missing.json")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe" + SECRET_BYTES)
    with pytest.raises(WalletError, match="not a Solana key file"):
        Wallet.from_path(binary)


def test_unsupported_types() -> None:
    for bad in (12, 1.5, None, object()):
        if bad is None:
            continue
        with pytest.raises(WalletError, match="Cannot load a wallet from"):
            Wallet.load(bad)


def test_repr_str_show_only_the_public_key() -> None:
    wallet = Wallet.from_keypair(KEYPAIR)
    assert repr(wallet) == f"Wallet('{ADDRESS}')"
    assert str(wallet) == repr(wallet)
    assert f"{wallet}" == repr(wallet)
    assert repr(Wallet.read_only(ADDRESS)) == f"Wallet('{ADDRESS}', read_only=True)"
    assert_no_secret(repr(wallet) + str(wallet) + repr([wallet]) + repr({"w": wallet}))
    assert not hasattr(wallet, "__dict__")


def test_wallet_cannot_be_pickled_with_a_secret() -> None:
    wallet = Wallet.from_keypair(KEYPAIR)
    with pytest.raises(WalletError, match="cannot be pickled"):
        pickle.dumps(wallet)
    with pytest.raises(WalletError):
        wallet.__getstate__()
    read_only = Wallet.read_only(ADDRESS)
    restored = pickle.loads(pickle.dumps(read_only))
    assert restored == read_only
    assert not restored.can_sign


def test_copies_share_the_object_and_wallet_is_immutable() -> None:
    wallet = Wallet.from_keypair(KEYPAIR)
    assert copy.copy(wallet) is wallet
    assert copy.deepcopy({"w": wallet})["w"] is wallet
    with pytest.raises(AttributeError):
        wallet._keypair = None


def test_equality_and_hash_by_pubkey() -> None:
    a = Wallet.from_keypair(KEYPAIR)
    b = Wallet.load(SECRET_B58)
    assert a == b
    assert hash(a) == hash(b)
    assert a != Wallet.generate()
    assert a != ADDRESS
    assert len({a, b, Wallet.read_only(ADDRESS)}) == 1


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_any_seed_round_trips_through_every_format(seed: bytes) -> None:
    keypair = Keypair.from_seed(seed)
    expected = str(keypair.pubkey())
    assert Wallet.from_bytes(bytes(keypair)).address == expected
    assert Wallet.from_json(list(bytes(keypair))).address == expected
    assert Wallet.from_base58(str(keypair)).address == expected
