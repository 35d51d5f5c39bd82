"""The I/O-free halves of the sync/async twins: checks, request building, reply parsing."""
