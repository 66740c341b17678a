"""Queue a Celery task once the current transaction commits, without letting a broker outage
fail the request that already committed.

Every caller keeps the database as the record of what still has to happen (a pending invitation,
an unsent hold notice) and has a periodic path that publishes it again, so a lost publish is late,
never lost. Raising the broker's error instead would turn a committed SCIM create into a 500 that
the identity provider retries into a 409.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def publish(task: Any, *args: Any, retried_by: str) -> bool:
    """`task.delay(*args)` now; False, logged with what will retry it, when the broker is down."""
    try:
        task.delay(*args)
    except Exception as exc:  # noqa: BLE001 - kombu, redis and socket errors alike
        logger.warning(
            "%s%r not queued: broker unavailable (%s); %s will queue it again",
            task.name,
            args,
            type(exc).__name__,
            retried_by,
        )
        return False
    return True


def publish_on_commit(task: Any, *args: Any, retried_by: str) -> None:
    transaction.on_commit(lambda: publish(task, *args, retried_by=retried_by))
