"""The wire protocols a location can speak, and the connector class of each.

========== ====================================== =================================
key        protocol                               module
========== ====================================== =================================
console    the console's own REST dialect          :mod:`connectors.console_rest`
star       STAR REST (OpenAPI documents)           :mod:`connectors.star`
opentrack  Dealertrack OpenTrack (SOAP 1.1)        :mod:`connectors.opentrack`
========== ====================================== =================================

Each vendor profile lists the protocols it offers (its first is the default); a location
may choose another its vendor offers. Classes are imported on first use, so importing
this module costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .base import DmsConnector

CONSOLE = "console"
STAR = "star"
OPENTRACK = "opentrack"

#: protocol key -> (module, class name, label shown to admins)
PROTOCOLS: dict[str, tuple[str, str, str]] = {
    CONSOLE: ("connectors.console_rest", "ConsoleRestConnector", "Console REST API"),
    STAR: ("connectors.star", "StarConnector", "STAR REST"),
    OPENTRACK: ("connectors.opentrack", "OpenTrackConnector", "Dealertrack OpenTrack (SOAP)"),
}


def protocol_label(key: str) -> str:
    """The admin-facing name of a protocol (the key itself when unknown)."""
    return PROTOCOLS.get(key, ("", "", key))[2]


def connector_class(key: str) -> type[DmsConnector]:
    """The connector class of protocol ``key`` (ValueError for an unknown key)."""
    try:
        module, name, _ = PROTOCOLS[key]
    except KeyError:
        raise ValueError(f"unknown DMS protocol {key!r}; expected one of {', '.join(PROTOCOLS)}") from None
    return getattr(importlib.import_module(module), name)
