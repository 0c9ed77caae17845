"""DMS Activity on a repair order / workfile: Properties, Payments, History (seed 003)."""
from flask import Blueprint

bp = Blueprint("dms_activity", __name__)

# The payment export's outbox handler and after-delivery hook must be registered in every
# process that delivers pushes (the web app's and the workers', which build this app).
import jobs.payments  # noqa: E402,F401
from webapp.dms_activity import routes  # noqa: E402,F401
