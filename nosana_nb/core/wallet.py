"""A Solana wallet that keeps its secret to itself.

Key material is parsed with solders and held only inside the Wallet. Its repr, str and every
error message show at most the public key; parse errors never echo the input, because the input
may be a secret. Wallets cannot be pickled while they hold a secret; copies share the one object.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from solders.keypair import Keypair
from solders.message import to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from nosana_nb.core.errors import WalletError

__all__ = ["ENV_WALLET", "MAX_KEY_FILE_BYTES", "Wallet"]

ENV_WALLET = "NOSANA_WALLET"

_In = TypeVar("_In")
_Out = TypeVar("_Out")

_SECRET_KEY_BYTES = 64
_PUBKEY_BYTES = 32
MAX_KEY_FILE_BYTES = 2048
"""A Solana key file is about 230 bytes (under 600 pretty-printed); more is not a key file."""
_FORMATS_HELP = (
    "Pass a path to a Solana id.json file, its JSON array text, a base58 secret key, "
    "a base58 public key (read-only), 64 secret-key bytes, or a solders Keypair."
)


class Wallet:
    """A Solana keypair, or a read-only public key, that signs Nosana requests and transactions.

    Usually made with :meth:`load` (or ``from_path``, ``from_base58``, ...). Key material never
    appears in a repr, a log line or an exception.

    Args:
        keypair: the solders Keypair that signs; None for a read-only wallet.
        pubkey: the public key of a read-only wallet (when ``keypair`` is None).

    Raises:
        WalletError: neither a Keypair nor, for a read-only wallet, a Pubkey was given.
    """

    __slots__ = ("_keypair", "_pubkey")

    _keypair: Keypair | None
    _pubkey: Pubkey

    def __init__(self, keypair: Keypair | None = None, *, pubkey: Pubkey | None = None) -> None:
        if keypair is not None and not isinstance(keypair, Keypair):
            raise WalletError(f"expected a solders Keypair; got {type(keypair).__name__}")
        if keypair is None and not isinstance(pubkey, Pubkey):
            raise WalletError("a Wallet needs a Keypair or, for a read-only wallet, a Pubkey")
        object.__setattr__(self, "_keypair", keypair)
        object.__setattr__(self, "_pubkey", keypair.pubkey() if keypair is not None else pubkey)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def load(cls, source: Any = None, *, env: Mapping[str, str] | None = None) -> Wallet:
        """Load a wallet from any supported source; ``None`` reads the NOSANA_WALLET variable.

        Args:
            source: a Wallet, a solders Keypair or Pubkey, a key file path, 64 secret-key
                bytes, a JSON array, a base58 secret or public key; None reads the variable.
            env: the environment to read NOSANA_WALLET from (default ``os.environ``).

        Returns:
            The wallet (read-only when loaded from a public key).

        Raises:
            WalletError: nothing to load, or a source of an unsupported kind or format.
        """
        if source is None:
            environ = os.environ if env is None else env
            source = environ.get(ENV_WALLET)
            if not source:
                raise WalletError(
                    f"No wallet given and {ENV_WALLET} is not set. {_FORMATS_HELP} "
                    "For the local sandbox, Wallet.generate() makes a throwaway wallet."
                )
        if isinstance(source, Wallet):
            return source
        if isinstance(source, Keypair):
            return cls.from_keypair(source)
        if isinstance(source, Pubkey):
            return cls.read_only(source)
        if isinstance(source, os.PathLike):
            return cls.from_path(source)
        if isinstance(source, bytes | bytearray | memoryview):
            return cls.from_bytes(bytes(source))
        if isinstance(source, list | tuple):
            return cls.from_json(list(source))
        if isinstance(source, str):
            return cls._from_text(source)
        raise WalletError(f"Cannot load a wallet from a {type(source).__name__}. {_FORMATS_HELP}")

    @classmethod
    def _from_text(cls, text: str) -> Wallet:
        stripped = text.strip()
        if stripped.startswith(("[", "{")):
            return cls.from_json(stripped)
        if _looks_like_path(stripped):
            if not stripped.endswith(".json") and not os.path.exists(stripped):
                # base64 key text contains "/" too: never echo text that may be a secret
                _fail(f"no wallet file at the {len(stripped)}-character path given")
            return cls.from_path(stripped)
        return cls.from_base58(stripped)

    @classmethod
    def from_keypair(cls, keypair: Keypair) -> Wallet:
        """From a solders Keypair.

        Args:
            keypair: the keypair that signs.

        Returns:
            The wallet.
        """
        return cls(keypair)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> Wallet:
        """Read a Solana CLI key file (JSON array of 64 numbers), e.g. ~/.config/solana/id.json.

        Args:
            path: the key file (``~`` is expanded); a regular file under 2 KiB.

        Returns:
            The wallet.

        Raises:
            WalletError: the file is missing, too large or not a Solana key file.
        """
        file = Path(path).expanduser()
        raw = _read_key_file(file)
        text = _quietly(_utf8, raw)
        values = None if text is None else _parse_json(text)
        if not isinstance(values, list):
            raise WalletError(
                f"wallet file {file} is not a Solana key file (a JSON array of 64 numbers)"
            )
        return cls.from_json(values)

    @classmethod
    def from_json(cls, data: str | Sequence[int]) -> Wallet:
        """From JSON array text or a list of 64 integers 0-255 (the Solana CLI format).

        Args:
            data: JSON text, or a sequence of 64 integers.

        Returns:
            The wallet.
        """
        if isinstance(data, str):
            values = _parse_json(data)
            if values is None:
                _fail("the text is not valid JSON; expected an array of 64 numbers")
        else:
            values = data
        if not isinstance(values, list | tuple):
            _fail("expected a JSON array of 64 numbers")
        if len(values) != _SECRET_KEY_BYTES:
            _fail(f"expected {_SECRET_KEY_BYTES} numbers, got {len(values)}")
        if not all(type(v) is int and 0 <= v <= 255 for v in values):
            _fail("every element must be an integer from 0 to 255")
        return cls.from_bytes(bytes(values))

    @classmethod
    def from_base58(cls, text: str) -> Wallet:
        """From a base58 secret key (64 bytes), or a base58 public key (32 bytes, read-only).

        Args:
            text: the base58 text.

        Returns:
            The wallet.
        """
        if not isinstance(text, str):
            _fail(f"expected a base58 string; got {type(text).__name__}")
        stripped = text.strip()
        if 32 <= len(stripped) <= 44:
            pubkey = _quietly(Pubkey.from_string, stripped)
            if pubkey is not None:
                return cls.read_only(pubkey)
        keypair = _quietly(Keypair.from_base58_string, stripped)
        if keypair is None:
            _fail(f"not a base58 secret key or public key ({len(stripped)} characters)")
        return cls(keypair)

    @classmethod
    def from_bytes(cls, data: bytes) -> Wallet:
        """From the 64 secret-key bytes (32-byte seed followed by the public key).

        Args:
            data: the 64 bytes.

        Returns:
            The wallet.
        """
        if not isinstance(data, bytes | bytearray):
            _fail(f"expected bytes; got {type(data).__name__}")
        if len(data) != _SECRET_KEY_BYTES:
            hint = " (that is a public key or seed size)" if len(data) == _PUBKEY_BYTES else ""
            _fail(f"expected {_SECRET_KEY_BYTES} bytes, got {len(data)}{hint}")
        keypair = _quietly(Keypair.from_bytes, bytes(data))
        if keypair is None:
            _fail("the last 32 bytes are not the public key of the first 32")
        return cls(keypair)

    @classmethod
    def read_only(cls, pubkey: str | Pubkey) -> Wallet:
        """A wallet that knows only its address: it can read but not sign.

        Args:
            pubkey: the address, base58 or a solders Pubkey.

        Returns:
            The read-only wallet.
        """
        if isinstance(pubkey, Pubkey):
            return cls(pubkey=pubkey)
        if not isinstance(pubkey, str):
            _fail(f"expected a base58 public key; got {type(pubkey).__name__}")
        parsed = _quietly(Pubkey.from_string, pubkey.strip())
        if parsed is None:
            _fail(f"not a base58 32-byte public key ({len(pubkey)} characters)")
        return cls(pubkey=parsed)

    @classmethod
    def generate(cls) -> Wallet:
        """A fresh random wallet (for the sandbox and tests).

        Returns:
            The wallet.
        """
        return cls(Keypair())

    # -- public face --------------------------------------------------------------------------

    @property
    def pubkey(self) -> Pubkey:
        """The public key, as a solders Pubkey."""
        return self._pubkey

    @property
    def address(self) -> str:
        """The public key, base58 (safe to show and log)."""
        return str(self._pubkey)

    @property
    def can_sign(self) -> bool:
        """False for a read-only wallet (loaded from a public key)."""
        return self._keypair is not None

    def sign_message(self, data: bytes) -> Signature:
        """Ed25519-sign ``data`` with the secret key.

        Args:
            data: the bytes to sign.

        Returns:
            The signature.

        Raises:
            WalletError: ``data`` is not bytes, or the wallet is read-only.
        """
        if not isinstance(data, bytes | bytearray):
            raise WalletError(f"can only sign bytes; got {type(data).__name__}")
        return self.keypair_for_signing().sign_message(bytes(data))

    def sign_transaction(self, tx: VersionedTransaction | bytes) -> VersionedTransaction:
        """Put this wallet's signature into its signer slot of a (partially signed) transaction.

        Args:
            tx: the transaction, or its serialized bytes.

        Returns:
            The transaction with this wallet's signature in place.

        Raises:
            WalletError: not a versioned transaction, this wallet is not one of its signers,
                or the wallet is read-only.
        """
        keypair = self.keypair_for_signing()
        if isinstance(tx, bytes | bytearray):
            try:
                tx = VersionedTransaction.from_bytes(bytes(tx))
            except ValueError:
                raise WalletError("the bytes are not a serialized versioned transaction") from None
        if not isinstance(tx, VersionedTransaction):
            raise WalletError(f"expected a VersionedTransaction or bytes; got {type(tx).__name__}")
        message = tx.message
        signers = list(message.account_keys[: message.header.num_required_signatures])
        if self._pubkey not in signers:
            raise WalletError(f"{self.address} is not a required signer of this transaction")
        signatures = list(tx.signatures)
        signatures[signers.index(self._pubkey)] = keypair.sign_message(to_bytes_versioned(message))
        return VersionedTransaction.populate(message, signatures)

    def keypair_for_signing(self) -> Keypair:
        """The solders Keypair, for core code that builds transactions. Never log or store it.

        Returns:
            The keypair.

        Raises:
            WalletError: the wallet is read-only.
        """
        if self._keypair is None:
            raise WalletError(
                f"Wallet {self.address} is read-only (loaded from a public key) and cannot sign. "
                "Load it from its secret key instead."
            )
        return self._keypair

    # -- hygiene ------------------------------------------------------------------------------

    def __repr__(self) -> str:
        suffix = "" if self.can_sign else ", read_only=True"
        return f"Wallet({self.address!r}{suffix})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Wallet):
            return NotImplemented
        return self._pubkey == other._pubkey

    def __hash__(self) -> int:
        return hash(self._pubkey)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Wallet is immutable")

    def __copy__(self) -> Wallet:
        # Immutable: sharing the object never duplicates key material.
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Wallet:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        if self._keypair is not None:
            raise WalletError(
                "A Wallet holding a secret key cannot be pickled; keep the key in its file and "
                "load it where it is needed."
            )
        return (Wallet.read_only, (self.address,))

    def __getstate__(self) -> NoReturn:
        raise WalletError("Wallet state cannot be exported")


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _read_key_file(file: Path) -> bytes:
    """The bytes of a key file: a regular file of at most MAX_KEY_FILE_BYTES, links followed.

    ``/dev/zero`` or a FIFO would otherwise be read until memory runs out (or for ever); the
    checks run on the opened descriptor, so the file cannot be swapped after them.
    """
    target = os.path.realpath(file)
    shown = str(file) if target == os.path.abspath(file) else f"{file} (a link to {target})"
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise WalletError(f"wallet file not found: {shown}") from None
    except OSError as err:
        raise WalletError(f"cannot read wallet file {shown}: {type(err).__name__}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise WalletError(
                f"wallet file {shown} is {_file_kind(info.st_mode)}, not a regular file"
            )
        if info.st_size > MAX_KEY_FILE_BYTES:
            raise WalletError(
                f"wallet file {shown} is {info.st_size} bytes; a Solana key file is under "
                f"{MAX_KEY_FILE_BYTES} bytes"
            )
        raw = b""
        while len(raw) <= MAX_KEY_FILE_BYTES and (piece := os.read(fd, 4096)):
            raw += piece
    except OSError as err:
        raise WalletError(f"cannot read wallet file {shown}: {type(err).__name__}") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_KEY_FILE_BYTES:  # it grew after fstat
        raise WalletError(
            f"wallet file {shown} is over {MAX_KEY_FILE_BYTES} bytes; not a Solana key file"
        )
    return raw


def _looks_like_path(text: str) -> bool:
    # os.path.exists swallows OSError/ValueError, which would otherwise carry the text along.
    return text.endswith(".json") or os.sep in text or text.startswith("~") or os.path.exists(text)


def _quietly(parse: Callable[[_In], _Out], value: _In) -> _Out | None:
    """Run a parser; on failure return None so no exception (which may hold the input) survives."""
    try:
        return parse(value)
    except ValueError:
        return None


def _utf8(raw: bytes) -> str:
    return raw.decode("utf-8")


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:  # JSONDecodeError keeps the whole document in .doc
        return None


def _fail(reason: str) -> NoReturn:
    # Deliberately never includes the input: it may be a secret key.
    raise WalletError(f"Cannot load wallet: {reason}. {_FORMATS_HELP}")
