"""One verifying TLS context per process (and CA setting), shared by every httpx client."""

from __future__ import annotations

import functools
import os
import ssl

import httpx

__all__ = ["shared_ssl_context"]


def shared_ssl_context() -> ssl.SSLContext:
    """httpx's default verifying TLS context, made once per process (and CA setting).

    Loading the CA bundle costs tens of milliseconds and every client opens five httpx clients
    (and ``fleet_*`` an async twin per call); one context serves them all. ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR`` are honoured as httpx honours them, read at each call.

    Returns:
        The context to pass as ``verify=`` to ``httpx.Client`` / ``httpx.AsyncClient``.
    """
    return _ssl_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _ssl_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()  # reads the same two variables
