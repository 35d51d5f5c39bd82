"""The sandbox's HTTP edge: the ASGI app and server, the route table and request pipeline
(auth, validation, pagination, wire shapes), the SSE stream, the OpenAPI document and faults.

Handlers live in ``sandbox.api``; this package only binds them to paths.
"""
