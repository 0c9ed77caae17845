"""Global Admin tools: users and locations (and the credentials CLI: ``flask rotate-credentials``)."""
from flask import Blueprint

# cli_group=None: the blueprint's commands are top-level (``flask rotate-credentials``).
bp = Blueprint("admin", __name__, cli_group=None)

from webapp.admin import commands, routes  # noqa: E402,F401
