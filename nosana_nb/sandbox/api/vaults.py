"""Vault routes (list, create, withdraw) and the vault selection used by create.

Keypair vaults are generated and held by the sandbox: ``vault_key`` is the hex of the 64-byte
solders keypair; API-key vaults store ``apikey:<key>`` and use the owner address as the vault.
"""

from __future__ import annotations

from typing import Any

from solders.keypair import Keypair

from nosana_nb.sandbox.chain.errors import ChainError
from nosana_nb.sandbox.context import SandboxContext
from nosana_nb.sandbox.http.routing import ApiError, Call, Reply
from nosana_nb.sandbox.http.serialize import vault_to_wire

Doc = dict[str, Any]

VAULT_NOT_FOUND = "Vault not found."
NO_FUNDS = "Vault has no funds to withdraw."
API_KEY_VAULT = "Cannot withdraw from a vault containing a Nosana API key."
API_KEY_PREFIX = "apikey:"


def is_api_key_vault(doc: Doc) -> bool:
    return str(doc.get("vault_key") or "").startswith(API_KEY_PREFIX) or doc.get(
        "vault"
    ) == doc.get("owner")


def new_vault(ctx: SandboxContext, owner: str) -> Doc:
    keypair = Keypair()
    return ctx.store.insert(
        "vaults",
        {
            "vault": str(keypair.pubkey()),
            "vault_key": bytes(keypair).hex(),
            "owner": owner,
            "created_at": ctx.clock.now_iso(),
        },
    )


def shared_vault(ctx: SandboxContext, owner: str) -> Doc:
    """The owner's oldest keypair vault (by created_at, then creation order), created if missing.

    The service breaks created_at ties by address, but its millisecond timestamps practically
    never tie; the sandbox's frozen clock makes ties common, and an address tie-break would then
    let a later ``new_vault`` take over as the shared vault. Insertion order (``_id``) is the
    true creation order.
    """
    with ctx.store.transaction():
        candidates = [v for v in ctx.store.find("vaults", owner=owner) if not is_api_key_vault(v)]
        if candidates:
            return min(candidates, key=lambda v: (str(v.get("created_at")), str(v["_id"])))
        return new_vault(ctx, owner)


def api_key_vault(ctx: SandboxContext, owner: str, api_key: str) -> Doc:
    """Upsert, insert-only: the first key stored for an owner is kept (the service's quirk)."""
    with ctx.store.transaction():
        existing = ctx.store.find_one("vaults", vault=owner, owner=owner)
        if existing is not None:
            return existing
        return ctx.store.insert(
            "vaults",
            {
                "vault": owner,
                "vault_key": API_KEY_PREFIX + api_key,
                "owner": owner,
                "created_at": ctx.clock.now_iso(),
            },
        )


def owned_keypair_vault(ctx: SandboxContext, owner: str, address: str) -> Doc:
    found = ctx.store.find_one("vaults", vault=address, owner=owner)
    if found is None or address == owner:
        raise ApiError(404, VAULT_NOT_FOUND)
    return found


# -- handlers -------------------------------------------------------------------------------
def list_vaults(ctx: SandboxContext, call: Call) -> Reply:
    return Reply([vault_to_wire(v) for v in ctx.store.find("vaults", owner=call.owner)])


def create_vault(ctx: SandboxContext, call: Call) -> Reply:
    try:
        return Reply(vault_to_wire(shared_vault(ctx, call.owner)))
    except Exception:
        raise ApiError(500, "Failed to create shared vault") from None


def withdraw(ctx: SandboxContext, call: Call) -> Reply:
    vault = ctx.store.find_one("vaults", vault=call.params["vault"], owner=call.owner)
    if vault is None:
        raise ApiError(404, VAULT_NOT_FOUND)
    if is_api_key_vault(vault):
        raise ApiError(400, API_KEY_VAULT)
    try:
        secret = bytes.fromhex(str(vault["vault_key"]))
        transaction = ctx.chain.build_withdraw_tx(secret, call.owner)
    except ChainError as exc:
        if exc.message == NO_FUNDS:
            raise ApiError(500, NO_FUNDS) from None
        raise ApiError(500, "Ops something went wrong, please again.") from None
    return Reply({"transaction": transaction})
