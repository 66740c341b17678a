"""PostgreSQL backend whose connection health check runs only after the connection sat idle.

Django's CONN_HEALTH_CHECKS sends `SELECT 1` before the first query of every request: on a busy
SCIM endpoint that is one more round trip than the request itself needs. A connection in steady
use is known to be alive; one that sat idle (longer than DB_HEALTH_CHECK_IDLE_SECONDS) may have
been cut by a database restart or a proxy, and is checked as before. A connection that breaks
while busy fails its request (the SCIM layer answers 503 with Retry-After) and is discarded at
the end of that request, so the next request reconnects.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    _last_seen: float = 0.0
    _idle_for: float = float("inf")

    def close_if_unusable_or_obsolete(self) -> None:
        # Called when a request (or task) starts and when it ends: the gap since the last call
        # at a request's start is how long the connection sat unused.
        now = time.monotonic()
        self._idle_for, self._last_seen = now - self._last_seen, now
        super().close_if_unusable_or_obsolete()

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and not self.health_check_done  # type: ignore[has-type]
            and self._idle_for < settings.DB_HEALTH_CHECK_IDLE_SECONDS
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def connect(self) -> None:
        super().connect()
        self._idle_for, self._last_seen = 0.0, time.monotonic()
