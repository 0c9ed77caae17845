"""Reading the wizard's form posts.

The wizard has no WTForms class: its fields are the differing fields of one record,
known only on the server. Each comes as ``choice-<portal attribute>`` = ``portal`` |
``dms``; :func:`webapp.domain.sync.validate_choices` refuses anything else (a field not
shown, a locked field set to the DMS value, an unknown side). The CSRF token is checked
by Flask-WTF's global CSRF protection.
"""
from __future__ import annotations

from typing import Mapping

CHOICE_PREFIX = "choice-"
MAX_CHOICES = 50  # more than any record has fields: a bigger post is forged


def submitted_choices(form: Mapping[str, str]) -> dict[str, str]:
    """``{portal attribute: side}`` from the posted ``choice-*`` fields."""
    choices = {key[len(CHOICE_PREFIX):]: (value or "").strip()
               for key, value in form.items() if key.startswith(CHOICE_PREFIX)}
    return dict(list(choices.items())[:MAX_CHOICES])
