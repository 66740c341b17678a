"""The Celery application, configured from Django settings under the CELERY_ namespace.

Workers start with `celery -A nordpass_admin worker`; tasks are found in each app's `tasks.py`.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nordpass_admin.settings")

app = Celery("nordpass_admin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="nordpass_admin.ping", ignore_result=False)
def ping() -> str:
    """Proves a worker consumes from the broker end to end.

    Operators: `celery -A nordpass_admin call nordpass_admin.ping`, then read the worker's log.
    """
    return "pong"
