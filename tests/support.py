"""Real servers for end-to-end tests: an SMTP server on loopback, Celery worker and beat
processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpInbox:
    """What a real SMTP server on 127.0.0.1 received."""

    port: int
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 60) -> list[Message]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} emails, got {len(self.messages)}")
            time.sleep(0.2)
        return self.messages


@contextmanager
def smtp_server() -> Iterator[SmtpInbox]:
    inbox = SmtpInbox(port=free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def worker_database_url() -> str:
    """The URL of the database this test runs on (the test database), for another process."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _celery_environment(**env: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        **env,
    }


WORKER_READY = "ready."
BEAT_READY = "beat: Starting..."


def wait_until_logged(process: subprocess.Popen[bytes], log: Path, text: str) -> None:
    deadline = time.monotonic() + 60
    while text not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


@contextmanager
def _celery_process(
    arguments: list[str], log: Path, ready: str | None, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`ready`: the line to wait for before going on; None to start several processes at once
    and wait for each with `wait_until_logged`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", *arguments],
        cwd=settings.BASE_DIR,
        env=_celery_environment(**env),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        if ready is not None:
            wait_until_logged(process, log, ready)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def celery_worker(
    queue: str, log: Path, app: str = "nordpass_admin", wait: bool = True, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery worker` on the configured broker, consuming only `queue`."""
    with _celery_process(
        ["-A", app, "worker", "--pool=solo", "--loglevel=INFO", "-Q", queue,
         "--without-mingle", "--without-gossip", "--hostname", f"{queue}@localhost"],
        log, WORKER_READY if wait else None, **env,
    ) as process:  # fmt: skip
        yield process


@contextmanager
def celery_beat(
    state: Path, log: Path, app: str = "nordpass_admin", wait: bool = True, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery beat` sending CELERY_BEAT_SCHEDULE's tasks, its schedule kept in `state`."""
    with _celery_process(
        ["-A", app, "beat", "--loglevel=INFO", "--schedule", str(state),
         "--pidfile", str(state.with_suffix(".pid"))],
        log, BEAT_READY if wait else None, **env,
    ) as process:  # fmt: skip
        yield process
