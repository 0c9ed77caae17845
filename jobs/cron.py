"""``rq cron`` configuration: what the single scheduler process enqueues, and when.

Run exactly one scheduler (``make run`` does): ``rq cron`` has no lock of its own.
"""
from rq import cron

from jobs.housekeeping import HEARTBEAT_INTERVAL, record_scheduler_heartbeat
from jobs.queues import MAINTENANCE

cron.register(record_scheduler_heartbeat, queue_name=MAINTENANCE, interval=HEARTBEAT_INTERVAL, result_ttl=300,
              failure_ttl=86400)

from jobs.queues import PULLS  # noqa: E402
from jobs.schedule import dispatch_due_pulls  # noqa: E402

# Every minute: enqueue the pulls, imports and reconciliations that are due, at active locations
# only (see jobs/schedule.py).
cron.register(dispatch_due_pulls, queue_name=PULLS, interval=60, result_ttl=300, failure_ttl=86400)

from jobs.cases import auto_close_cases  # noqa: E402

# Hourly: close cases by each location's auto-close rule (Admin → External Interfaces).
cron.register(auto_close_cases, queue_name=MAINTENANCE, interval=3600, result_ttl=300, failure_ttl=86400)

from jobs.queues import PUSHES  # noqa: E402
from jobs.schedule import wake_due_pushes  # noqa: E402

# Every minute: wake the delivery of DMS pushes that are due or stuck, at active locations only
# (see jobs/schedule.py; the delivery itself is jobs/pushes.py).
cron.register(wake_due_pushes, queue_name=PUSHES, interval=60, result_ttl=300, failure_ttl=86400)
