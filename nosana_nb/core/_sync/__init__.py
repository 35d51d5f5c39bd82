"""The sync resources and shells, generated from ``_async`` by ``scripts/unasync.py``."""
