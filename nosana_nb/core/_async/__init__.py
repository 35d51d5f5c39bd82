"""The async resources and shells of the core, written once; their sync twins are in ``_sync``."""
