"""`python manage.py devserver`: the web server and a Celery worker (with beat) together, for
`make run`. Ctrl-C (or SIGTERM) stops both; if one of them dies, the other is stopped too."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

GRACE_SECONDS = 10


class Command(BaseCommand):
    help = "Run the panel and SCIM endpoint (runserver) and a Celery worker with beat."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        python = sys.executable
        schedule = str(settings.VAR_DIR / "celerybeat-schedule")
        commands = {
            "worker": [python, "-m", "celery", "-A", "nordpass_admin", "worker", "--beat",
                       "--loglevel=INFO", "--concurrency=2", f"--schedule={schedule}"],
            "web": [python, "manage.py", "runserver", options["addrport"]],
        }  # fmt: skip
        processes = {name: subprocess.Popen(command) for name, command in commands.items()}  # noqa: S603
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(p.poll() is None for p in processes.values()):
                time.sleep(0.3)
        finally:
            self._stop_all(processes)

    def _stop_all(self, processes: dict[str, subprocess.Popen[bytes]]) -> None:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + GRACE_SECONDS
        for name, process in processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in {GRACE_SECONDS}s; killing it.")
                process.kill()
                process.wait()
        self.stdout.write("Stopped the web server and the worker.")
