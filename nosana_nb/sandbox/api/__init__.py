"""The deployment manager's request handlers: plain ``(ctx, call) -> Reply`` functions.

They read and write the store (the worker reacts to what they commit), and use the HTTP edge's
wire helpers (``sandbox.http.serialize``, ``pagination``, ``validation``) for their answers.
"""
