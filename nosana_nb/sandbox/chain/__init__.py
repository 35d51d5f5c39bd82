"""The sandbox's Solana chain: a LiteSVM ledger with a local NOS mint, persisted in the store,
and the Solana JSON-RPC subset served over it.
"""
