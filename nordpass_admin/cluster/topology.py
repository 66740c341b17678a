"""The cluster's processes: starting each in its place, killing and restarting them on demand.

The machine's PostgreSQL and Redis are used, never started or stopped here: the cluster gets a
database of its own (created fresh and migrated at start) and the two Redis databases it is given
(emptied at start: the broker's and the cache's).
"""

from __future__ import annotations

import email
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from types import TracebackType
from typing import Any

from nordpass_admin.cluster import processes
from nordpass_admin.cluster.haproxy import RuntimeApi, Upstream, render_config
from nordpass_admin.cluster.processes import PYTHON, free_port, spawn, wait_until

NODE_ADDRESSES = {"a": "127.0.0.2", "b": "127.0.0.3"}
WORKERS = ("w1", "w2")
WEB_WORKERS, WEB_THREADS, GRACEFUL_SECONDS = 2, 4, 10
WORKER_CONCURRENCY = 2
START_TIMEOUT = 90


class ClusterUnavailable(RuntimeError):
    """Something the cluster needs is missing on this machine (HAProxy, PostgreSQL, Redis)."""


@dataclass
class Node:
    """One web node: a gunicorn master and its workers, on an address of its own."""

    name: str
    address: str
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.poll() is None else None


@dataclass
class Event:
    at: float  # time.monotonic()
    what: str


class Cluster:
    """Two web nodes behind HAProxy, two Celery workers, a beat and an SMTP sink, on loopback.

    `env` overrides the settings every process gets (and `start_node(env=...)` one node's).
    `port` is the balancer's (a free one by default). The database is dropped at stop unless
    `keep_database`. `events` records when each node or worker was killed, started and back,
    for tests that measure around those moments.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        database: str,
        broker_db: int,
        cache_db: int,
        env: dict[str, str] | None = None,
        port: int | None = None,
        postgres: str = "postgres://postgres@127.0.0.1:5432",
        redis: str = "redis://127.0.0.1:6379",
        keep_database: bool = False,
    ) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", database):
            raise ValueError(f"not a plain database name: {database!r}")
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database, self.broker_db, self.cache_db = database, broker_db, cache_db
        self.env = dict(env or {})
        self.port: int = port or free_port()
        self.postgres, self.redis = postgres, redis
        self.keep_database = keep_database
        self.events: list[Event] = []
        self.secret_key = secrets.token_urlsafe(50)
        self.smtp_port = free_port()
        self.mail_log = self.workdir / "mail.log"
        self.mail_dir = self.workdir / "mail"
        self.nodes = {
            name: Node(name, address, free_port(address), self.workdir / f"{name}.log")
            for name, address in NODE_ADDRESSES.items()
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.admin_socket = self._socket_path()
        self.haproxy = RuntimeApi(self.admin_socket)
        self._database_created = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Cluster {self.url} database={self.database} workdir={self.workdir}>"

    # -- addresses -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"{self.postgres}/{self.database}"

    def redis_url(self, db: int) -> str:
        return f"{self.redis}/{db}"

    def _socket_path(self) -> Path:
        # A Unix socket's path is limited to 107 bytes; a deep work dir gets a short one elsewhere.
        path = self.workdir / "haproxy.sock"
        if len(str(path)) < 100:
            return path
        return Path(tempfile.mkdtemp(prefix="cluster-")) / "haproxy.sock"

    def environment(self, overrides: dict[str, str] | None = None) -> dict[str, str]:
        """The settings of every process: production (DEBUG off), shared PostgreSQL and Redis,
        the balancer's address as the site's, email to the sink."""
        return {
            **os.environ,
            "ENV_FILE": "/dev/null",
            "DJANGO_SETTINGS_MODULE": "nordpass_admin.settings",
            "PYTHONPATH": str(processes.ROOT),
            "DEBUG": "false",
            "SECRET_KEY": self.secret_key,
            "SITE_URL": self.url,
            "ALLOWED_HOSTS": ",".join(["127.0.0.1", "localhost", *NODE_ADDRESSES.values()]),
            "STATIC_MANIFEST": "false",
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": self.redis_url(self.broker_db),
            "CACHE_URL": self.redis_url(self.cache_db),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.smtp_port),
            "EMAIL_USE_TLS": "false",
            "EMAIL_USE_SSL": "false",
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "plain",
            # The nodes' peer is always the balancer: the client is in X-Forwarded-For.
            "TRUSTED_PROXIES": "127.0.0.1",
            **self.env,
            **(overrides or {}),
        }

    def record(self, what: str) -> None:
        with self._lock:
            self.events.append(Event(time.monotonic(), what))

    # -- the whole cluster -----------------------------------------------------------------------

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start everything and wait until the balancer has both nodes UP. On any failure, stop
        what was started and raise."""
        haproxy = shutil.which("haproxy") or (
            "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
        )
        if haproxy is None:
            raise ClusterUnavailable(
                "HAProxy is not installed (Debian: apt-get install -y haproxy; `make loadbalancer`)"
            )
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                raise ClusterUnavailable(
                    f"127.0.0.1:{self.port} is in use: choose another port (CLUSTER_PORT)"
                )
        try:
            self._prepare_services()
            self._start_smtp_sink()
            for name in self.nodes:
                self._spawn_node(name)
            for name in WORKERS:
                self._spawn_worker(name)
            self._spawn_beat("beat")
            for name in self.nodes:
                self._wait_node_ready(name)
            for name in (*WORKERS, "beat"):
                self._wait_log(name, self._ready_marker(name), offset=0)
            self._start_haproxy(haproxy)
            self.wait_states(dict.fromkeys(self.nodes, "UP"))
            self.record("started")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop everything this cluster started (the balancer first, so nothing new arrives;
        web nodes gracefully, so they write their provisioning-log rows), then drop its
        database unless asked to keep it. Safe to call twice, and after a failed start."""
        try:
            if (haproxy := self.processes.pop("haproxy", None)) is not None:
                processes.stop_process(haproxy, grace=5)
            stoppers = [
                threading.Thread(target=self._stop_node, args=(name,)) for name in self.nodes
            ]
            for thread in stoppers:
                thread.start()
            for thread in stoppers:
                thread.join()
            for name in [name for name in self.processes if name != "smtp"]:
                processes.stop_process(self.processes.pop(name), grace=20)
            if (smtp := self.processes.pop("smtp", None)) is not None:
                processes.stop_process(smtp, grace=5)
        finally:
            if self.admin_socket.parent != self.workdir:
                shutil.rmtree(self.admin_socket.parent, ignore_errors=True)
            if self._database_created and not self.keep_database:
                self._database_created = False
                self._drop_database()

    def _prepare_services(self) -> None:
        import psycopg
        import redis

        for db in (self.broker_db, self.cache_db):
            try:
                redis.Redis.from_url(self.redis_url(db), socket_timeout=5).flushdb()
            except redis.RedisError as exc:
                raise ClusterUnavailable(f"Redis at {self.redis} is not reachable: {exc}") from exc
        try:
            self._drop_database()
            with psycopg.connect(f"{self.postgres}/postgres", autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{self.database}"')
        except psycopg.OperationalError as exc:
            raise ClusterUnavailable(
                f"PostgreSQL at {self.postgres} is not reachable: {exc}"
            ) from exc
        self._database_created = True
        self.manage("migrate", "--noinput")

    def _drop_database(self) -> None:
        import psycopg

        with psycopg.connect(f"{self.postgres}/postgres", autocommit=True) as connection:
            # The name was checked in __init__: a plain identifier.
            connection.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def _start_smtp_sink(self) -> None:
        self.processes["smtp"] = spawn(
            [PYTHON, "-m", "bench.smtp_sink", "--port", str(self.smtp_port),
             "--log", str(self.mail_log), "--store", str(self.mail_dir)],
            env=self.environment(), log=self.workdir / "smtp.log",
        )  # fmt: skip

        def accepting() -> bool:
            self._check_alive("smtp")
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", self.smtp_port)) == 0

        wait_until(accepting, timeout=30, what="the SMTP sink", interval=0.1)

    def _start_haproxy(self, binary: str) -> None:
        config = self.workdir / "haproxy.cfg"
        upstreams = [Upstream(node.name, node.address, node.port) for node in self.nodes.values()]
        config.write_text(
            render_config(port=self.port, upstreams=upstreams, admin_socket=self.admin_socket)
        )
        checked = subprocess.run(  # noqa: S603 - fixed argv
            [binary, "-c", "-q", "-f", str(config)], capture_output=True, text=True, check=False
        )
        if checked.returncode != 0:
            raise RuntimeError(f"HAProxy rejects {config}:\n{checked.stdout}{checked.stderr}")
        self.admin_socket.unlink(missing_ok=True)
        self.processes["haproxy"] = spawn(
            [binary, "-db", "-f", str(config)],
            env=dict(os.environ),
            log=self.workdir / "haproxy.log",
        )

        def answering() -> bool:
            self._check_alive("haproxy")
            try:
                return bool(self.haproxy.servers())
            except OSError:
                return False

        wait_until(answering, timeout=20, what="HAProxy's admin socket", interval=0.1)

    def _check_alive(self, name: str) -> None:
        process = self.processes.get(name) or (
            self.nodes[name].process if name in self.nodes else None
        )
        if process is None or process.poll() is not None:
            raise RuntimeError(f"{name} exited at start; see {self.workdir / (name + '.log')}:\n"
                               + self._tail(self.workdir / f"{name}.log"))  # fmt: skip

    @staticmethod
    def _tail(path: Path, lines: int = 30) -> str:
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- web nodes -------------------------------------------------------------------------------

    def _spawn_node(self, name: str, env: dict[str, str] | None = None) -> None:
        node = self.nodes[name]
        node.process = spawn(
            [PYTHON, "-m", "gunicorn", "nordpass_admin.wsgi:application",
             "--config", "python:nordpass_admin.gunicorn_conf",
             "--bind", f"{node.address}:{node.port}",
             "--worker-class", "gthread", "--workers", str(WEB_WORKERS),
             "--threads", str(WEB_THREADS), "--timeout", "60",
             "--graceful-timeout", str(GRACEFUL_SECONDS), "--name", f"web-{name}",
             # gunicorn 27's control socket defaults to one path per user (~/.gunicorn): two
             # masters on one machine would take it from each other.
             "--control-socket", str(self.admin_socket.parent / f"gunicorn-{name}.ctl")],
            env=self.environment(env), log=node.log,
        )  # fmt: skip

    def _wait_node_ready(self, name: str) -> None:
        node = self.nodes[name]

        def ready() -> bool:
            self._check_alive(name)
            try:
                with urllib.request.urlopen(f"{node.url}/readyz", timeout=2) as response:  # noqa: S310 - http on loopback
                    return bool(response.status == 200)
            except (OSError, urllib.error.URLError):
                return False

        wait_until(
            ready, timeout=START_TIMEOUT, what=f"node {name} to answer /readyz", interval=0.2
        )

    def _stop_node(self, name: str) -> None:
        node = self.nodes[name]
        if node.process is not None:
            # SIGTERM to the master alone is gunicorn's graceful stop: it stops accepting,
            # lets its workers finish their requests and run worker_exit (the log writer).
            processes.stop_process(node.process, grace=GRACEFUL_SECONDS + 5)
            node.process = None

    def kill_node(self, name: str) -> None:
        """SIGKILL the node's whole gunicorn group: a crash, nothing flushed, nothing closed."""
        node = self.nodes[name]
        self.record(f"kill {name}")
        if node.process is not None:
            processes.kill_process(node.process)
        self.record(f"killed {name}")

    def start_node(self, name: str, env: dict[str, str] | None = None) -> None:
        """Start the node again (with `env` overriding its settings) and wait until it answers
        /readyz and the balancer has it UP."""
        if self.nodes[name].pid is not None:
            raise RuntimeError(f"node {name} is running")
        self.record(f"start {name}")
        self._spawn_node(name, env)
        self._wait_node_ready(name)
        self.wait_states({name: "UP"})
        self.record(f"{name} up")

    def restart_node_gracefully(self, name: str, env: dict[str, str] | None = None) -> None:
        """A rolling-restart step: drain the node in the balancer, wait until its requests are
        answered, stop it gracefully, start it, and put it back once the balancer sees it UP."""
        self.record(f"drain {name}")
        self.haproxy.set_state(name, "drain")
        wait_until(lambda: self.haproxy.sessions(name) == 0, timeout=60,
                   what=f"node {name}'s requests to finish", interval=0.05)  # fmt: skip
        self.record(f"stop {name}")
        self._stop_node(name)
        self.record(f"start {name}")
        self._spawn_node(name, env)
        self._wait_node_ready(name)
        self.haproxy.set_state(name, "ready")
        self.wait_states({name: "UP"})
        self.record(f"{name} up")

    # -- Celery ----------------------------------------------------------------------------------

    def _ready_marker(self, name: str) -> str:
        return "Starting..." if name.startswith("beat") else f"{name}@cluster ready."

    def _wait_log(self, name: str, marker: str, *, offset: int) -> None:
        log = self.workdir / f"{name}.log"

        def logged() -> bool:
            self._check_alive(name)
            with log.open("rb") as handle:
                handle.seek(offset)
                return marker.encode() in handle.read()

        wait_until(logged, timeout=START_TIMEOUT, what=f"{name} to log {marker!r}", interval=0.2)

    def _log_size(self, name: str) -> int:
        log = self.workdir / f"{name}.log"
        return log.stat().st_size if log.exists() else 0

    def _spawn_worker(self, name: str) -> None:
        self.processes[name] = spawn(
            [PYTHON, "-m", "celery", "-A", "nordpass_admin", "worker", "-n", f"{name}@cluster",
             "--pool", "prefork", "--concurrency", str(WORKER_CONCURRENCY), "--loglevel", "INFO"],
            env=self.environment(), log=self.workdir / f"{name}.log",
        )  # fmt: skip

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker and its pool: the tasks it holds are neither finished nor acked."""
        self.record(f"kill {name}")
        process = self.processes.pop(name, None)
        if process is not None:
            processes.kill_process(process)

    def start_worker(self, name: str) -> None:
        if name in self.processes:
            raise RuntimeError(f"worker {name} is running")
        offset = self._log_size(name)
        self.record(f"start {name}")
        self._spawn_worker(name)
        self._wait_log(name, self._ready_marker(name), offset=offset)
        self.record(f"{name} ready")

    def _spawn_beat(self, name: str) -> None:
        self.processes[name] = spawn(
            [PYTHON, "-m", "celery", "-A", "nordpass_admin", "beat", "--loglevel", "INFO",
             "--schedule", str(self.workdir / f"{name}-schedule"),
             "--pidfile", str(self.workdir / f"{name}.pid")],
            env=self.environment(), log=self.workdir / f"{name}.log",
        )  # fmt: skip

    def start_beat(self, name: str = "beat2") -> None:
        """Another beat, as if started by mistake next to the first (own schedule file)."""
        if name in self.processes:
            raise RuntimeError(f"{name} is running")
        offset = self._log_size(name)
        self._spawn_beat(name)
        self._wait_log(name, self._ready_marker(name), offset=offset)
        self.record(f"{name} started")

    def stop_beat(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            processes.stop_process(process, grace=10)

    # -- what the tests look at ------------------------------------------------------------------

    def server_states(self) -> dict[str, str]:
        """HAProxy's view of each node: UP, DOWN, DRAIN or MAINT."""
        return self.haproxy.server_states()

    def wait_states(self, expected: dict[str, str], timeout: float = START_TIMEOUT) -> None:
        def reached() -> bool:
            states = self.server_states()
            return all(states.get(name) == state for name, state in expected.items())

        wait_until(reached, timeout=timeout, what=f"HAProxy to show {expected}", interval=0.1)

    def smtp_recipients(self) -> list[str]:
        """Every recipient of every message the sink accepted, in order (one per message and
        recipient: an address twice means two emails)."""
        if not self.mail_log.exists():
            return []
        return [
            address
            for line in self.mail_log.read_text().splitlines()
            for address in line.split(",")
            if address
        ]

    def smtp_messages(self) -> list[Message]:
        """Every message the sink accepted, whole, in the order it accepted them."""
        if not self.mail_dir.exists():
            return []
        return [
            email.message_from_bytes(path.read_bytes())
            for path in sorted(self.mail_dir.glob("*.eml"))
        ]

    def manage(self, *args: str, timeout: float = 300) -> str:
        """manage.py with the cluster's settings; its standard output."""
        return processes.manage(self.environment(), *args, timeout=timeout)

    def sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as connection:
            cursor = connection.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def tenant(self, slug: str, *, password: str | None = None) -> tuple[str, str]:
        """An organization (owner owner@<slug>.example) and a SCIM token, made by manage.py
        commands. Returns (tenant id, token)."""
        return processes.tenant_by_commands(self.environment(), slug, password=password)

    def topology(self) -> list[tuple[str, str, int | None, Path]]:
        """(process, address, pid, log) for each process, for a person reading the screen."""
        rows: list[tuple[str, str, int | None, Path]] = []

        def pid(name: str) -> int | None:
            process = self.processes.get(name)
            return process.pid if process is not None and process.poll() is None else None

        rows.append(
            ("haproxy", f"127.0.0.1:{self.port}", pid("haproxy"), self.workdir / "haproxy.log")
        )
        for node in self.nodes.values():
            rows.append((f"web {node.name}", f"{node.address}:{node.port}", node.pid, node.log))
        beats = sorted(name for name in self.processes if name.startswith("beat"))
        for name in (*WORKERS, *beats):
            rows.append((name, "-", pid(name), self.workdir / f"{name}.log"))
        rows.append(("smtp sink", f"127.0.0.1:{self.smtp_port}", pid("smtp"), self.mail_dir))
        return rows
