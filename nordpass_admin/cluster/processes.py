"""Starting, waiting for and stopping local processes: the building blocks of the cluster, also
used by the fault tests (tests/faults/servers.py).

Every process is started in its own session, so its process group is exactly the process and
the children it forks (gunicorn's workers, Celery's pool): a signal to the group reaches all of
them and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Any, *, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Call `condition` until it returns something true, and return that; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def spawn(args: list[str], *, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `args` in a session of its own, its output appended to `log`."""
    with log.open("ab") as output:
        return subprocess.Popen(  # noqa: S603 - argv built by this package, no shell
            args,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_process(process: subprocess.Popen[bytes], *, grace: float = 15) -> None:
    """Stop a process started in its own session: SIGTERM to it, which gunicorn, Celery and
    redis-server take as a graceful stop of themselves and their children; after `grace`
    seconds, SIGKILL to its whole group."""
    if process.poll() is not None:
        return
    try:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        kill_process(process)


def kill_process(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and its children at once: a crash, nothing gets to clean up.

    Returns once the whole group is gone, not only its leader: a child that outlives it for a
    moment (a gunicorn worker) still holds the listening socket and could accept a connection.
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def group_gone() -> bool:
        try:
            os.killpg(process.pid, 0)  # signal 0: only asks whether the group still exists
        except ProcessLookupError:
            return True
        return False

    wait_until(group_gone, timeout=10, what=f"process group {process.pid} to exit", interval=0.01)


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """`manage.py` in a process of its own with `env`; its standard output."""
    result = subprocess.run(  # noqa: S603 - argv built by this package, no shell
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def tenant_by_commands(
    env: dict[str, str], slug: str = "contoso", *, password: str | None = None
) -> tuple[str, str]:
    """An organization and its SCIM token made the way an operator does, for a database this
    process is not connected to. Returns (tenant id, token); the owner is owner@<slug>.example."""
    manage(
        env, "create_organization", "--name", slug.title(), "--slug", slug,
        "--owner-email", f"owner@{slug}.example", "--owner-name", f"{slug.title()} Owner",
        # One argument with "=": a generated password may begin with "-".
        f"--owner-password={password or secrets.token_urlsafe(18)}", "--no-input",
    )  # fmt: skip
    output = manage(env, "scim_credentials", "--organization", slug)
    values = dict(line.split(":", 1) for line in output.splitlines() if ":" in line)
    tenant_url = values["Tenant URL"].strip().rstrip("/")
    return tenant_url.rsplit("/", 1)[1], values["Secret token"].strip()
