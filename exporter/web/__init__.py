"""The HTTP surface: the Starlette app, its routes (the consoles API under ``/api``; ``/metrics``,
the probes, OpenAPI and the status page), authentication, request bodies and JSON errors."""
