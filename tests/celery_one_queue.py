"""The project's Celery app with every task sent to the queue named by TEST_CELERY_QUEUE.

A beat and a worker a test starts with `-A tests.celery_one_queue` talk only to each other on the
shared broker: beat's periodic tasks, and the tasks those queue, never reach the default queue
that another run's worker on this machine (or nobody) consumes.
"""

import os

from nordpass_admin.celery import app

app.conf.task_default_queue = os.environ["TEST_CELERY_QUEUE"]

__all__ = ["app"]
