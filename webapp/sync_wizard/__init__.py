"""Sync with DMS: the step-by-step customer and asset sync wizards (issue 6, seed 001).

``wizard.py`` holds the steps (start, choices, owner, apply) on top of the pure logic in
``webapp.domain.sync``; ``routes.py`` wires them to URLs under the record they sync
(``/customers/<id>/sync``, ``/assets/<id>/sync``).
"""

from webapp.sync_wizard.routes import bp

__all__ = ["bp"]
