"""Real servers for the fault tests, each started on loopback and stopped by the test that owns it:
the app under gunicorn, a private redis-server, a throwaway PostgreSQL cluster, and a small HTTP
client that speaks SCIM to them.

The shared PostgreSQL on 5432 and Redis on 6379 are never stopped or flushed here: a fault is
injected only into a server the test started itself. The process helpers (wait_until,
stop_process, manage, tenant_by_commands) are the cluster's (nordpass_admin/cluster/processes.py),
re-exported here for the tests.
"""

from __future__ import annotations

import glob
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from accounts.models import Organization
from nordpass_admin.cluster.processes import manage as manage
from nordpass_admin.cluster.processes import stop_process as stop_process
from nordpass_admin.cluster.processes import tenant_by_commands as tenant_by_commands
from nordpass_admin.cluster.processes import wait_until as wait_until
from tests.support import free_port, worker_database_url

BIN = Path(sys.executable).parent
REQUIRE_REAL_SERVICES = os.environ.get("REQUIRE_REAL_SERVICES") == "1"


def unavailable(reason: str) -> None:
    """Skip on a developer machine; fail in CI's run against real services, where every fault
    test must really run."""
    if REQUIRE_REAL_SERVICES:
        pytest.fail(f"REQUIRE_REAL_SERVICES=1 but {reason}")
    pytest.skip(reason)


@dataclass
class Tenant:
    organization: Organization
    token: str

    @property
    def tenant_id(self) -> str:
        return str(self.organization.tenant_id)


# --- HTTP ----------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any


def http_request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> Response:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body) if body is not None else None
        connection.request(method, path, body=data, headers=headers or {})
        response = connection.getresponse()
        raw = response.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, parsed)
    finally:
        connection.close()


@dataclass
class Scim:
    """An identity provider's view of one Tenant URL on a live server."""

    port: int
    tenant_id: str
    token: str

    @property
    def base(self) -> str:
        return f"/scim/v2/{self.tenant_id}"

    def request(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Response:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/scim+json",
            "User-Agent": "Azure-SCIM-Provisioning (fault tests)",
        }
        return http_request(
            self.port, method, self.base + path, body, headers=headers, timeout=timeout
        )


def entra_user(user_name: str, email: str | None = None) -> dict[str, Any]:
    """Entra ID's Create User body (docs: scim-notes §4.1) for one person."""
    return {
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ],
        "externalId": user_name,
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": email or user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Fault Test", "familyName": "Test", "givenName": "Fault"},
        "roles": [],
    }


def group_patch(op: str, member_ids: list[str]) -> dict[str, Any]:
    """Entra ID's group membership PATCH (docs: scim-notes, "Add/Remove a member")."""
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": op, "path": "members", "value": [{"value": pk} for pk in member_ids]}
        ],
    }


# --- The app under gunicorn ----------------------------------------------------------------------


def app_environment(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The production settings (DEBUG off) on the test's database. The broker is a filesystem
    folder of this test's own unless overridden, so the tasks a test does not consume never land
    in a queue someone else's worker reads."""
    broker_dir = tmp_path / "broker"
    return {
        **os.environ,
        "ENV_FILE": "/dev/null",
        "DJANGO_SETTINGS_MODULE": "nordpass_admin.settings",
        "PYTHONPATH": str(settings.BASE_DIR),
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_MANIFEST": "false",
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_DIR": str(broker_dir),
        "LOG_LEVEL": "WARNING",
        **overrides,
    }


@dataclass
class LiveApp:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, timeout: float = 10) -> Response:
        return http_request(self.port, "GET", path, timeout=timeout)

    def scim(self, tenant_id: str, token: str) -> Scim:
        return Scim(self.port, tenant_id, token)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def gunicorn(
    env: dict[str, str], log: Path, *, workers: int = 2, threads: int = 8
) -> Iterator[LiveApp]:
    """gunicorn as deployed (gthread workers, like bench/run.py), ready when /healthz answers."""
    port = free_port()
    environment = {**env, "SITE_URL": f"http://127.0.0.1:{port}"}
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "nordpass_admin.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
         "--worker-class", "gthread", "--timeout", "60", "--graceful-timeout", "5"],
        cwd=settings.BASE_DIR, env=environment, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    app = LiveApp(port, process, log)
    try:

        def healthy() -> bool:
            assert process.poll() is None, app.output()
            try:
                return app.get("/healthz", timeout=2).status == 200
            except OSError:
                return False

        wait_until(healthy, timeout=60, what="gunicorn to answer /healthz", interval=0.2)
        yield app
    finally:
        stop_process(process)


# --- A private Redis -----------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of this test's own (no persistence), which the test may stop and start."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server is not installed (Debian: apt-get install redis-server)")
        self.binary = str(binary)
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(self.workdir)],
            stdout=(self.workdir / "redis.log").open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)

        def pong() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_until(pong, timeout=20, what="the private redis-server")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, grace=10)
            self.process = None


@contextmanager
def private_redis(workdir: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- A throwaway PostgreSQL cluster --------------------------------------------------------------


def _postgres_bin() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).resolve().parent if pg_ctl else None


class ThrowawayPostgres:
    """initdb + pg_ctl on a temporary directory and a free port. PostgreSQL refuses to run as
    root, so as root the cluster belongs to the `postgres` OS user (runuser)."""

    def __init__(self) -> None:
        bin_dir = _postgres_bin()
        if bin_dir is None or not (bin_dir / "initdb").exists():
            unavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        assert bin_dir is not None
        self.bin = bin_dir
        self.prefix: list[str] = []
        self.owner: str | None = None
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                unavailable("running as root and runuser is missing to run PostgreSQL")
            self.prefix = [str(runuser), "-u", "postgres", "--"]
            self.owner = "postgres"
        self.root = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        if self.owner:
            shutil.chown(self.root, user=self.owner)
        self.data = self.root / "data"
        self.port = free_port()

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            [*self.prefix, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout}{result.stderr}"

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=60"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "postgres.log"), "-w", "-t", "30", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with suppress(AssertionError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    cluster = ThrowawayPostgres()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
