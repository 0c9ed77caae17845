"""The sandbox DMS: a standalone HTTP server that behaves like each vendor's DMS.

Run it with ``python -m connectors.sandbox`` (see :mod:`connectors.sandbox.__main__` for
flags), or from tests with :func:`connectors.sandbox.testing.running_sandbox`. The API is
documented in :mod:`connectors.sandbox.server`.
"""
from .server import SandboxServer, build_server

__all__ = ["SandboxServer", "build_server"]
