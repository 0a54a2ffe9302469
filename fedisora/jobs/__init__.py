"""Background jobs: a persistent queue (:mod:`.queue`) and its runner (:mod:`.runner`).

Everything asynchronous -- inbox processing, delivery, media processing, video
generation -- is a row in the one ``jobs`` table.
"""

from fedisora.jobs.queue import (
    backoff_delay,
    claim,
    complete,
    enqueue,
    fail,
    get_job,
    heartbeat,
    release,
    set_progress,
)
from fedisora.jobs.runner import JobContext, JobRunner, PermanentError, RetryLater

__all__ = [
    "enqueue",
    "claim",
    "complete",
    "fail",
    "release",
    "set_progress",
    "heartbeat",
    "get_job",
    "backoff_delay",
    "JobRunner",
    "JobContext",
    "PermanentError",
    "RetryLater",
]
