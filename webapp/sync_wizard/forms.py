"""Reading the wizard's form posts.

The wizard has no WTForms class: its fields are the differing fields of one record,
known only on the server. Each comes as ``choice-<portal attribute>`` = ``portal`` |
``dms``; a locked (OEM) field may also come with the tick-box ``send-<attr>`` ("Also write
it to the DMS"), read as the choice ``send``. :func:`webapp.domain.sync.validate_choices`
refuses anything else (a field not shown, a locked field set to the DMS value, ``send``
for a field that is not locked, an unknown side). The CSRF token is checked by
Flask-WTF's global CSRF protection.
"""

from __future__ import annotations

from collections.abc import Mapping

CHOICE_PREFIX = "choice-"
SEND_PREFIX = "send-"
MAX_CHOICES = 50  # more than any record has fields: a bigger post is forged


def submitted_choices(form: Mapping[str, str]) -> dict[str, str]:
    """``{portal attribute: side}`` from the posted ``choice-*`` fields."""
    choices = {
        key[len(CHOICE_PREFIX) :]: (value or "").strip() for key, value in form.items() if key.startswith(CHOICE_PREFIX)
    }
    for key, value in form.items():
        attr = key[len(SEND_PREFIX) :]
        if key.startswith(SEND_PREFIX) and value and choices.get(attr) in (None, "", "portal"):
            choices[attr] = "send"  # keep the portal (OEM) value and write it to the DMS too
    return dict(list(choices.items())[:MAX_CHOICES])
