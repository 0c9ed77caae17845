"""The scheduler's configuration (``rq.cron.register`` calls): what it enqueues, and when.

Run by ``python -m jobs.scheduler`` (jobs/scheduler.py), which enqueues only while it holds the
scheduler lock, so a second one is a standby. ``rq cron jobs.cron`` would read the same
registrations but has no lock of its own: never run it beside the scheduler.
"""

from rq import cron

from jobs.cases import auto_close_cases
from jobs.housekeeping import HEARTBEAT_INTERVAL, record_scheduler_heartbeat
from jobs.schedule import dispatch_due_pulls, wake_due_pushes
from webapp.services.queues import MAINTENANCE, PUSHES

cron.register(
    record_scheduler_heartbeat, queue_name=MAINTENANCE, interval=HEARTBEAT_INTERVAL, result_ttl=300, failure_ttl=86400
)

# Every 15 s: enqueue the pulls, imports and reconciliations that are due, at active locations
# only (see jobs/schedule.py), so a due pull is queued at most 15 s after its due time. On the
# maintenance queue, not behind the pulls it enqueues (a worker serving `maintenance` is then not
# held up by a queue of long pulls). A tick still waiting after 60 s is dropped (``ttl``): a newer
# one follows, and a busy worker does not run a backlog of them one after the other.
cron.register(dispatch_due_pulls, queue_name=MAINTENANCE, interval=15, ttl=60, result_ttl=300, failure_ttl=86400)

# Hourly: close cases by each location's auto-close rule (Admin → External Interfaces).
cron.register(auto_close_cases, queue_name=MAINTENANCE, interval=3600, result_ttl=300, failure_ttl=86400)

# Every minute: wake the delivery of DMS pushes that are due or stuck, at active locations only
# (see jobs/schedule.py; the delivery itself is jobs/pushes.py).
cron.register(wake_due_pushes, queue_name=PUSHES, interval=60, result_ttl=300, failure_ttl=86400)
