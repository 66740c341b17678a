"""gunicorn hooks for the metrics and the logs.

Use: `gunicorn --config python:nordpass_admin.gunicorn_conf ...`.

Only hooks live here; workers, threads and the bind address stay on the command line
(docker-compose.yml). Imports nothing from Django at load time: this runs in the gunicorn master.

- PROMETHEUS_MULTIPROC_DIR: the master empties the folder before the first worker starts
  (samples left by the previous run would be added to this one's), and drops a dead worker's
  live gauges (prometheus_client's multiprocess mode, "gunicorn" section of its docs).
- The first worker logs the `scale_out` system check's warnings (nordpass_admin/checks.py):
  Django runs no system checks under gunicorn, and a cache each process keeps for itself must
  not go unnoticed on a server with several.
- A stopping worker writes the provisioning-log rows it has queued (integrations/log_writer.py).
- LOG_FORMAT=json: gunicorn's own error and access lines are JSON too, so every line on the
  web service's output parses the same way.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def on_starting(server: Any) -> None:
    if _MULTIPROC_DIR:
        folder = Path(_MULTIPROC_DIR)
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        folder.mkdir(parents=True, exist_ok=True)


def post_worker_init(worker: Any) -> None:
    """In each worker, once the application is loaded; only the server's first one reports."""
    if worker.age == 1:
        from nordpass_admin.checks import log_scale_out_warnings

        # A warning must never stop the server: an error here would end the worker's boot, and
        # gunicorn halts when a worker fails to boot.
        try:
            log_scale_out_warnings(web_workers=worker.cfg.workers)
        except Exception:
            worker.log.exception("Could not check the deployment for per-process caches")


def worker_exit(server: Any, worker: Any) -> None:
    """In the worker, as it stops: write the provisioning-log rows it still holds."""
    from integrations import log_writer

    log_writer.flush()


def child_exit(server: Any, worker: Any) -> None:
    if _MULTIPROC_DIR:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


if os.environ.get("LOG_FORMAT", "plain") == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "nordpass_admin.logging.JsonFormatter"}},
        "handlers": {
            "error": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            },
        },
        # gunicorn merges this over its defaults key by key: the root logger is restated so it
        # names a handler defined here. Django reconfigures the root logger in each worker.
        "root": {"level": "INFO", "handlers": ["error"]},
        "loggers": {
            "gunicorn.error": {"handlers": ["error"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }
