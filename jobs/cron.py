"""``rq cron`` configuration: what the single scheduler process enqueues, and when.

Run exactly one scheduler (``make run`` does): ``rq cron`` has no lock of its own.
"""
from rq import cron

from jobs.housekeeping import HEARTBEAT_INTERVAL, record_scheduler_heartbeat
from jobs.queues import MAINTENANCE

cron.register(record_scheduler_heartbeat, queue_name=MAINTENANCE, interval=HEARTBEAT_INTERVAL, result_ttl=300,
              failure_ttl=86400)

from jobs.schedule import dispatch_due_pulls  # noqa: E402

# Every 15 s: enqueue the pulls, imports and reconciliations that are due, at active locations
# only (see jobs/schedule.py), so a due pull is queued at most 15 s after its due time. On the
# maintenance queue, not behind the pulls it enqueues (a worker serving `maintenance` is then not
# held up by a queue of long pulls). A tick still waiting after 60 s is dropped (``ttl``): a newer
# one follows, and a busy worker does not run a backlog of them one after the other.
cron.register(dispatch_due_pulls, queue_name=MAINTENANCE, interval=15, ttl=60, result_ttl=300, failure_ttl=86400)

from jobs.cases import auto_close_cases  # noqa: E402

# Hourly: close cases by each location's auto-close rule (Admin → External Interfaces).
cron.register(auto_close_cases, queue_name=MAINTENANCE, interval=3600, result_ttl=300, failure_ttl=86400)

from jobs.queues import PUSHES  # noqa: E402
from jobs.schedule import wake_due_pushes  # noqa: E402

# Every minute: wake the delivery of DMS pushes that are due or stuck, at active locations only
# (see jobs/schedule.py; the delivery itself is jobs/pushes.py).
cron.register(wake_due_pushes, queue_name=PUSHES, interval=60, result_ttl=300, failure_ttl=86400)
