"""The one retry policy of background work: how many tries, and how long to wait before each.

A transient DMS failure (timeout, 5xx, 429) ends the try and the job queues its next one with
RQ's ``enqueue_in``: no worker sleeps. The wait is tenacity's exponential back-off, never sooner
than the DMS's Retry-After and never longer than the cap. A job that crashes (not a DMS error)
is tried again by RQ's own :class:`rq.Retry`, built from the same policy by :meth:`rq_retry`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from rq import Retry
from tenacity import RetryCallState, wait_exponential


@dataclass(frozen=True)
class RetryPolicy:
    """``tries`` in all; the wait before try n + 1 is ``first`` × ``factor`` ** (n − 1), at most ``cap``."""

    tries: int
    first: float
    cap: float
    factor: float = 2.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after try ``attempt`` failed; the DMS's Retry-After is a floor."""
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
        state.attempt_number = attempt
        wait = wait_exponential(multiplier=self.first, max=self.cap, exp_base=self.factor)(state)
        return min(self.cap, max(wait, retry_after or 0.0))

    def another_try(self, attempt: int) -> bool:
        """True while try ``attempt`` is not the last one."""
        return attempt < self.tries

    def rq_retry(self) -> Retry:
        """RQ's retry of a crashed job: the tries after the first, with this policy's waits."""
        return Retry(max=self.tries - 1, interval=[round(self.delay(n)) for n in range(1, self.tries)])


#: Pulls, backfills and reconciliations: 6 tries over about half a minute (1, 2, 4, 8, 16 s).
PULLS = RetryPolicy(tries=6, first=1.0, cap=60.0)
#: Related-RO lookups of a case.
RELATED_RO_LOOKUPS = RetryPolicy(
    tries=int(os.environ.get("RELATED_RO_ATTEMPTS", "4")),
    first=float(os.environ.get("RELATED_RO_BACKOFF", "0.5")),
    cap=30.0,
)
#: DMS pushes: a message waits 30 s, 1 min, 2 min … (at most an hour) between its 8 tries.
PUSHES = RetryPolicy(tries=8, first=30.0, cap=3600.0)
#: A job that crashed (a killed worker, the database away): 10 s, 1 min, 5 min.
CRASHED_JOBS = RetryPolicy(tries=4, first=10.0, cap=300.0, factor=6.0)
