"""System check: a deployment with several processes on a per-process cache (tag `scale_out`).

Several guarantees hold across web processes only when the cache is shared: one SCIM rate limit
per organization, the credential cache (each process remembers verified tokens only while Redis
can tell it that another process revoked one), and the sign-in, registration and SCIM
authentication-failure throttles. On a per-process cache they hold per process, and nothing
fails: hence a warning, at start.

Django runs system checks for manage.py commands (`check --deploy`, `migrate`, `runserver`) but
never under gunicorn, so nordpass_admin/gunicorn_conf.py runs this tag in its first worker and
logs what it finds (`log_scale_out_warnings`), with the server's own worker count.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from django.conf import settings
from django.core import checks

logger = logging.getLogger(__name__)

TAG = "scale_out"
PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache": "per-process memory",
    "django.core.cache.backends.dummy.DummyCache": "a dummy cache that keeps nothing",
    "django.core.cache.backends.filebased.FileBasedCache": "files on this host only",
}

# The gunicorn hook sets this to the server's worker count before it runs the checks; Django's
# check framework passes no arguments of its own to a check.
_server_workers: int | None = None


def _web_workers() -> int:
    if _server_workers is not None:
        return _server_workers
    try:
        return int(os.environ.get("WEB_CONCURRENCY", "1"))  # gunicorn's default --workers
    except ValueError:
        return 1


def multi_process_signs() -> list[str]:
    """What says this deployment runs, or is meant to run, more than one process."""
    signs = []
    engine = settings.DATABASES["default"]["ENGINE"]
    if not engine.endswith("sqlite3"):
        signs.append("the database is a server (not SQLite)")
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        signs.append("the Celery broker is a server")
    workers = _web_workers()
    if workers > 1:
        signs.append(f"the web server runs {workers} worker processes")
    return signs


def check_shared_cache(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    backend = settings.CACHES["default"]["BACKEND"]
    if settings.DEBUG or backend not in PER_PROCESS_CACHES:
        return []
    signs = multi_process_signs()
    if not signs:
        return []
    return [
        checks.Warning(
            f"The cache is {PER_PROCESS_CACHES[backend]} ({backend.rsplit('.', 1)[1]}), but "
            f"{' and '.join(signs)}. Each process keeps its own: the per-organization SCIM rate "
            "limit is multiplied by the number of processes, the SCIM credential cache is off "
            "(every SCIM request verifies its token in the database), and the sign-in, "
            "registration and SCIM authentication-failure throttles count per process.",
            hint="Set CACHE_URL=redis://<host>:6379/1 (or unset it with a redis:// "
            "CELERY_BROKER_URL: the cache then uses that Redis server, in another database).",
            id="nordpass_admin.W001",
        )
    ]


def log_scale_out_warnings(*, web_workers: int) -> None:
    """Runs the `scale_out` checks as Django would (SILENCED_SYSTEM_CHECKS applies) and logs
    each message found: for servers that start without manage.py."""
    global _server_workers
    _server_workers = web_workers
    try:
        messages = checks.run_checks(tags=[TAG])
    finally:
        _server_workers = None
    for message in messages:
        if not message.is_silenced():
            logger.warning("System check %s: %s Hint: %s", message.id, message.msg, message.hint)
