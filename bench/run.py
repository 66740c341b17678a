"""`make bench`: starts the production stack on loopback, seeds an organization, measures the
scenarios of issue 7 and prints a summary table with PASS/MISS per target.

Stack: PostgreSQL (a fresh `nordpass_bench` database, dropped at the end), Redis db 14 as the
Celery broker, gunicorn (2 workers x 4 threads, DEBUG off), a Celery worker and an SMTP sink that
counts messages. Load comes from `wrk` (C, its own process) with bench/scim.lua, and from
bench/loadgen.py for requests whose payload may be used only once (group PATCH).

Exits 1 when a scenario had errors (or the stack failed); missed targets are only reported.
Options: --keep leaves the database in place for EXPLAIN ANALYZE afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
VENV_BIN = Path(PYTHON).parent
DB_NAME = "nordpass_bench"
PG = "postgres://postgres@127.0.0.1:5432"
REDIS_DB = 14  # Celery broker
REDIS_CACHE_DB = 7  # cache: shared rate-limit buckets and credential generations
ORG_SLUG = "bench"
SMALL, LARGE, GROUP_SIZE = 1_000, 100_000, 50_000
GROUP_NAME = "Bench Big Group"
LOG_ROWS = 1_000_000
CYCLE_USERS, CYCLE_GROUPS, CYCLE_CONCURRENCY = 10_000, 50, 8
PANEL_PAGES = [
    ("Users page", "/users/"),
    ("Users page, search", "/users/?q=bench.user4242"),
    ("provisioning log", "/activity/provisioning/"),
    ("provisioning log, errors only", "/activity/provisioning/?status=client-error"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Stack:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.smtp_port = free_port()
        self.mail_log = workdir / "mail.log"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {
            **os.environ,
            "ENV_FILE": "/dev/null",
            "DJANGO_SETTINGS_MODULE": "nordpass_admin.settings",
            "PYTHONPATH": str(ROOT),
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SITE_URL": f"http://127.0.0.1:{self.port}",
            "ALLOWED_HOSTS": "127.0.0.1",
            "STATIC_MANIFEST": "false",
            "DATABASE_URL": f"{PG}/{DB_NAME}",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "CACHE_URL": f"redis://127.0.0.1:6379/{REDIS_CACHE_DB}",
            # The limiter runs on every request (one Redis script), set above what the load
            # generator can reach so it measures the check's cost, not the limit.
            "SCIM_RATE_LIMIT": "100000",
            "SCIM_RATE_BURST": "100000",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.smtp_port),
            "LOG_LEVEL": "WARNING",
        }

    # -- processes ---------------------------------------------------------------------------
    def start(self, name: str, args: list[str]) -> None:
        out = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        self.processes[name] = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            args,
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop_all(self) -> None:
        for name, process in reversed(list(self.processes.items())):
            if process.poll() is None:
                # Each was started in its own session: signal its group (its own children only).
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=20)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    if process.poll() is None:
                        os.killpg(process.pid, signal.SIGKILL)
                        process.wait()
            log(f"stopped {name}")

    def manage(self, *args: str) -> str:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        if result.returncode:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def python(self, *args: str) -> None:
        subprocess.run([PYTHON, *args], cwd=ROOT, env=self.env, check=True)  # noqa: S603

    def wait_http(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status, _ = self.http("GET", path)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{path} never answered 200")

    def http(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            data = json.dumps(body) if body is not None else None
            connection.request(method, path, body=data, headers=headers or {})
            response = connection.getresponse()
            raw = response.read()
            return response.status, (json.loads(raw) if raw.startswith(b"{") else raw)
        finally:
            connection.close()

    # -- database ----------------------------------------------------------------------------
    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True) as connection:
            cursor = connection.execute(query, params)
            return cursor.fetchall() if cursor.description else []


def settle(stack: Stack) -> None:
    """After a bulk seed: vacuum, analyze and checkpoint now, so autovacuum and a checkpoint do
    not compete for the 2 cores during the next measurement."""
    stack.sql("VACUUM ANALYZE")
    stack.sql("CHECKPOINT")


def admin_sql(query: str) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        connection.execute(query)


def status_mb(pid: int, field: str) -> float:
    """A memory line of /proc/<pid>/status in MB (VmRSS now, VmHWM the peak); 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_rss_mb(pid: int) -> float:
    return status_mb(pid, "VmHWM")


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_quiet(stack: Stack, timeout: float = 60) -> None:
    """Wait until the stack's processes are idle (the Celery worker and gunicorn finish booting
    and importing), so the first measurement does not share the CPU with start-up."""
    wait_idle([p.pid for p in stack.processes.values()], timeout=timeout)


def wait_idle(pids: list[int], timeout: float = 60) -> None:
    """Wait until these processes and their children use (almost) no CPU for a second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        every = pids + [child for pid in pids for child in children(pid)]
        before = sum(cpu_seconds(pid) for pid in every)
        time.sleep(1)
        if sum(cpu_seconds(pid) for pid in every) - before < 0.05:
            return


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


class ForeignCpu:
    """CPU used during a scenario by processes outside the benchmark (for example a test suite
    someone runs on the same machine), as a % of all cores. Rows measured while it is high are
    not comparable with a quiet run, so the table shows it next to each row."""

    HZ = os.sysconf("SC_CLK_TCK")

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.percent = 0.0

    @staticmethod
    def snapshot() -> dict[int, tuple[int, int]]:
        """pid -> (parent pid, utime + stime in clock ticks)."""
        found = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                found[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
        return found

    def ours(self, pid: int, table: dict[int, tuple[int, int]], bench_db: set[int]) -> bool:
        roots = {os.getpid(), *(p.pid for p in self.stack.processes.values()), *bench_db}
        for _ in range(64):
            if pid in roots:
                return True
            if pid not in table:
                return False
            pid = table[pid][0]
        return False

    def __enter__(self) -> ForeignCpu:
        self.started, self.before = time.monotonic(), self.snapshot()
        return self

    def __exit__(self, *exc: object) -> None:
        after = self.snapshot()
        elapsed = time.monotonic() - self.started
        rows = self.stack.sql("SELECT pid FROM pg_stat_activity WHERE datname = %s", (DB_NAME,))
        bench_db = {int(pid) for (pid,) in rows}
        foreign = sum(
            ticks - self.before.get(pid, (0, 0))[1]
            for pid, (_, ticks) in after.items()
            if not self.ours(pid, after, bench_db)
        )
        cores = os.cpu_count() or 1
        self.percent = 100.0 * foreign / self.HZ / elapsed / cores if elapsed else 0.0


# -- load generation -----------------------------------------------------------------------------
def wrk_run(
    url: str, mode: str, seconds: int, connections: int, env: dict[str, str]
) -> dict[str, Any]:
    """wrk (its own process) with bench/scim.lua against `url`; the script's JSON result."""
    args = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(ROOT / "bench" / "scim.lua"),
        url,
    ]
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        args, env={**os.environ, "BENCH_MODE": mode, **env}, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    line = next(x for x in result.stdout.splitlines() if x.startswith("BENCH_RESULT "))
    data: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
    data["errors"] = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return data


def wrk(stack: Stack, mode: str, seconds: int, **env: str) -> dict[str, Any]:
    # 8 connections = the server's 2 workers x 4 threads (saturation); 1 = one request at a time.
    connections = int(env.pop("BENCH_CONNECTIONS", "8"))
    with ForeignCpu(stack) as foreign:
        data = wrk_run(f"http://127.0.0.1:{stack.port}/", mode, seconds, connections, env)
    data["foreign_cpu"] = foreign.percent
    return data


def loadgen(
    stack: Stack, requests: list[list[str]], headers: dict[str, str], concurrency: int
) -> dict[str, Any]:
    spec = stack.workdir / "loadgen.json"
    spec.write_text(
        json.dumps(
            {
                "port": stack.port,
                "concurrency": concurrency,
                "headers": headers,
                "requests": requests,
            }
        )
    )
    with ForeignCpu(stack) as foreign:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [PYTHON, "-m", "bench.loadgen", str(spec)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    return {**json.loads(result.stdout), "foreign_cpu": foreign.percent}


def row(name: str, data: dict[str, Any]) -> dict[str, Any]:
    seconds = data["duration_us"] / 1e6
    return {
        "scenario": name,
        "requests": data["requests"],
        "rps": data["requests"] / seconds if seconds else 0.0,
        "p50": data["p50"] / 1000,
        "p95": data["p95"] / 1000,
        "p99": data["p99"] / 1000,
        "errors": data["errors"],
        "foreign": data["foreign_cpu"],
    }


# -- the run -------------------------------------------------------------------------------------
def measure_both(
    stack: Stack, name: str, mode: str, seconds: int, **env: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A 2 s warm-up, then the scenario at 8 connections (saturation) and at 1 (latency)."""
    wrk(stack, mode, 2, **env)
    saturated = row(name, wrk(stack, mode, seconds, **env))
    single = row(
        "  same, 1 connection (latency without queueing)",
        wrk(stack, mode, min(seconds, 10), BENCH_CONNECTIONS="1", **env),
    )
    return saturated, single


def seed_provisioning_log(stack: Stack, count: int) -> None:
    """`count` provisioning-log rows for the benchmark organization, one a second back in time,
    2% of them client errors (fixture data in one INSERT ... SELECT, not traffic)."""
    stack.sql(
        """
        INSERT INTO integrations_scimrequest (organization_id, created_at, request_id, method,
            path, query, status_code, duration_ms, client_kind, resource_type, resource_id,
            outcome, request_body, response_body, remote_ip)
        SELECT o.id, now() - make_interval(secs => i), md5(i::text), 'GET', '/Users',
            'filter=userName+eq+%%22bench.user' || i || '%%40bench.example%%22',
            CASE WHEN i %% 50 = 0 THEN 400 ELSE 200 END, 3, 'entra-id', 'User', '',
            'Found 1 user', '', '{"totalResults":1}', '127.0.0.1'
        FROM accounts_organization o, generate_series(1, %s) AS i
        WHERE o.slug = %s
        """,
        (count, ORG_SLUG),
    )


def panel_session(stack: Stack, email: str, password: str) -> str:
    """Sign in to the panel like a browser and return the Cookie header of the session."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    connection.request("GET", "/login/")
    response = connection.getresponse()
    page = response.read().decode()
    cookies = {}
    for header, value in response.getheaders():
        if header.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            cookies[name] = rest.split(";", 1)[0]
    marker = 'name="csrfmiddlewaretoken" value="'
    csrf = page[page.index(marker) + len(marker) :].split('"', 1)[0]
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": csrf, "username": email, "password": password}
    )
    connection.request(
        "POST",
        "/login/",
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
        },
    )
    response = connection.getresponse()
    response.read()
    for header, value in response.getheaders():
        if header.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            cookies[name] = rest.split(";", 1)[0]
    connection.close()
    if response.status != 302 or "sessionid" not in cookies:
        raise RuntimeError(f"panel sign-in failed: {response.status}")
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def initial_cycle(stack: Stack, base: str, headers: dict[str, str]) -> dict[str, Any]:
    """Scenario 6: bench/cycle.py in its own process, then wait for every invitation."""
    prefix = f"cycle{secrets.token_hex(2)}"
    spec = stack.workdir / "cycle.json"
    spec.write_text(
        json.dumps(
            {
                "port": stack.port,
                "base": base,
                "headers": headers,
                "users": CYCLE_USERS,
                "groups": CYCLE_GROUPS,
                "concurrency": CYCLE_CONCURRENCY,
                "prefix": prefix,
            }
        )
    )
    started = time.monotonic()
    with ForeignCpu(stack) as foreign:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [PYTHON, "-m", "bench.cycle", str(spec)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    data = json.loads(result.stdout)
    invitations = stack.sql(
        "SELECT count(*) FROM accounts_invitation i JOIN accounts_member m ON m.id = i.member_id"
        " WHERE m.user_name_key LIKE %s",
        (f"{prefix}.%",),
    )[0][0]
    marker = f"{prefix}.user"
    delivered: list[str] = []
    while time.monotonic() - started < 900:
        delivered = [x for x in stack.mail_log.read_text().splitlines() if marker in x]
        if len(delivered) >= invitations:
            break
        time.sleep(0.25)
    last_invitation = time.monotonic() - started
    time.sleep(3)  # a duplicate would arrive right behind the last one
    delivered = [x for x in stack.mail_log.read_text().splitlines() if marker in x]
    data.update(
        invitations=invitations,
        delivered=len(delivered),
        duplicates=len(delivered) - len(set(delivered)),
        last_invitation_s=last_invitation,
        error_count=sum(data["errors"].values()),
        foreign_cpu=foreign.percent,
    )
    return data


def run(
    stack: Stack, seconds: int, quick: bool = False
) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]], bool]:
    rows: list[dict[str, Any]] = []
    work = stack.workdir
    log(f"creating database {DB_NAME} and migrating")
    admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    admin_sql(f"CREATE DATABASE {DB_NAME}")
    for db in (REDIS_DB, REDIS_CACHE_DB):
        redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()
    stack.manage("migrate", "--noinput")
    owner_password = secrets.token_urlsafe(18)
    stack.manage(
        "create_organization",
        "--name",
        "Bench Corp",
        "--slug",
        ORG_SLUG,
        "--owner-email",
        "owner@bench.example",
        "--owner-name",
        "Bench Owner",
        "--owner-password",
        owner_password,
        "--no-input",
    )
    credentials = stack.manage("scim_credentials", "--organization", ORG_SLUG)
    values = dict(line.split(":", 1) for line in credentials.splitlines() if ":" in line)
    token = values["Secret token"].strip()
    base = urllib.parse.urlsplit(values["Tenant URL"].strip()).path.rstrip("/")
    scim_headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/scim+json",
        "User-Agent": "Azure-SCIM-Provisioning (bench)",
    }
    scim_env = {"BENCH_TOKEN": token, "BENCH_BASE": base}

    log("starting the SMTP sink, the Celery worker and gunicorn")
    stack.start(
        "smtp",
        [
            PYTHON,
            "-m",
            "bench.smtp_sink",
            "--port",
            str(stack.smtp_port),
            "--log",
            str(stack.mail_log),
        ],
    )
    stack.start(
        "celery",
        [
            str(VENV_BIN / "celery"),
            "-A",
            "nordpass_admin",
            "worker",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
    )
    stack.start(
        "gunicorn",
        [
            str(VENV_BIN / "gunicorn"),
            "nordpass_admin.wsgi:application",
            "--bind",
            f"127.0.0.1:{stack.port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--worker-class",
            "gthread",
        ],
    )
    stack.wait_http("/healthz")
    stack.wait_http("/readyz")
    wait_quiet(stack)

    log(f"/healthz floor ({seconds}s)")
    wrk(stack, "get", 2, BENCH_PATH="/healthz", **scim_env)  # warm-up
    healthz = row(
        "GET /healthz (floor)", wrk(stack, "get", seconds, BENCH_PATH="/healthz", **scim_env)
    )
    rows.append(healthz)

    log(f"seeding {SMALL:,} members")
    seed = ["-m", "bench.seed"]
    stack.python(*seed, "members", "--organization", ORG_SLUG, "--count", str(SMALL))
    settle(stack)
    names_small = work / "names_small.txt"
    stack.python(
        *seed,
        "lists",
        "--organization",
        ORG_SLUG,
        "--count",
        str(SMALL),
        "--names",
        str(names_small),
    )
    log(f"userName lookup at {SMALL:,} members ({seconds}s)")
    lookup_small, lookup_small_1 = measure_both(
        stack,
        f"GET /Users?filter=userName eq (at {SMALL:,})",
        "lookup",
        seconds,
        BENCH_LIST=str(names_small),
        **scim_env,
    )
    rows += [lookup_small, lookup_small_1]
    if quick:
        for r in rows:
            print(
                f"{r['scenario']:<60} {r['rps']:>8.1f} req/s p50 {r['p50']:.2f} ms "
                f"errors {r['errors']} other CPU {r['foreign']:.0f}%"
            )
        print(f"lookup / healthz: {lookup_small['rps'] / healthz['rps'] * 100:.1f}%")
        return rows, [], all(r["errors"] == 0 for r in rows)

    log(f"seeding up to {LARGE:,} members")
    stack.python(
        *seed,
        "members",
        "--organization",
        ORG_SLUG,
        "--start",
        str(SMALL),
        "--count",
        str(LARGE - SMALL),
    )
    settle(stack)
    names_large, ids_large = work / "names_large.txt", work / "ids_large.txt"
    stack.python(
        *seed,
        "lists",
        "--organization",
        ORG_SLUG,
        "--count",
        str(LARGE),
        "--names",
        str(names_large),
        "--ids",
        str(ids_large),
    )
    log(f"userName lookup at {LARGE:,} members ({seconds}s)")
    lookup_large, lookup_large_1 = measure_both(
        stack,
        f"GET /Users?filter=userName eq (at {LARGE:,})",
        "lookup",
        seconds,
        BENCH_LIST=str(names_large),
        **scim_env,
    )
    rows += [lookup_large, lookup_large_1]

    log(f"seeding {LOG_ROWS:,} provisioning-log entries")
    seed_provisioning_log(stack, LOG_ROWS)
    settle(stack)
    cookie = panel_session(stack, "owner@bench.example", owner_password)
    panel_rows = []
    for label, path in PANEL_PAGES:
        log(f"panel: {label}")
        wrk(stack, "get", 2, BENCH_PATH=path, BENCH_COOKIE=cookie, **scim_env)  # warm-up
        panel_rows.append(
            row(
                f"panel {label} (1 connection)",
                wrk(
                    stack,
                    "get",
                    min(seconds, 10),
                    BENCH_PATH=path,
                    BENCH_COOKIE=cookie,
                    BENCH_CONNECTIONS="1",
                    **scim_env,
                ),
            )
        )
    rows += panel_rows

    log(f"PATCH /Users/{{id}} replace of 5 attributes ({seconds}s)")
    patch_user = row(
        f"PATCH /Users/{{id}} (at {LARGE:,})",
        wrk(stack, "patch_user", seconds, BENCH_LIST=str(ids_large), **scim_env),
    )
    rows.append(patch_user)

    log(f"POST /Users creates ({seconds}s)")
    run_id = secrets.token_hex(3)
    create = row(
        f"POST /Users (at {LARGE:,}+)", wrk(stack, "create", seconds, BENCH_RUN=run_id, **scim_env)
    )
    rows.append(create)
    pattern = f"new.{run_id}.%"
    time.sleep(2)  # wrk stops with requests in flight: let the server finish them

    def count_created() -> tuple[int, int, int]:
        created = stack.sql(
            "SELECT count(*) FROM accounts_member WHERE user_name_key LIKE %s", (pattern,)
        )[0][0]
        invitations, sent = stack.sql(
            "SELECT count(*), count(*) FILTER (WHERE i.status = 'sent') FROM accounts_invitation"
            " i JOIN accounts_member m ON m.id = i.member_id WHERE m.user_name_key LIKE %s",
            (pattern,),
        )[0]
        return created, invitations, sent

    created, invitations, _ = count_created()
    log(f"waiting for {invitations} invitations to reach the SMTP sink")
    started, delivered = time.monotonic(), []
    while time.monotonic() - started < 180:
        delivered = [x for x in stack.mail_log.read_text().splitlines() if f"new.{run_id}." in x]
        if len(delivered) >= invitations:
            break
        time.sleep(0.5)
    time.sleep(3)  # a duplicate would arrive right behind the last one
    delivered = [x for x in stack.mail_log.read_text().splitlines() if f"new.{run_id}." in x]
    drain = time.monotonic() - started
    duplicates = len(delivered) - len(set(delivered))
    created, invitations, sent = count_created()
    email = {
        "created": created,
        "invitations": invitations,
        "sent": sent,
        "delivered": len(delivered),
        "unique": len(set(delivered)),
        "duplicates": duplicates,
        "drain_s": drain,
    }

    log(f"group of {GROUP_SIZE:,} members: PATCH adding 100 members per request")
    status, body = stack.http(
        "POST",
        base + "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": GROUP_NAME,
            "externalId": "bench-big-group",
            "members": [],
        },
        scim_headers,
    )
    if status != 201:
        raise RuntimeError(f"group create failed: {status} {body!r}")
    group_id = body["id"]
    stack.python(
        *seed,
        "memberships",
        "--organization",
        ORG_SLUG,
        "--group",
        group_id,
        "--count",
        str(GROUP_SIZE),
    )
    settle(stack)
    pool = ids_large.read_text().split()[GROUP_SIZE:]
    # 120 batches under load (4 at a time), then 60 one at a time: each adds 100 new members.
    batches = [pool[i : i + 100] for i in range(0, min(len(pool), 18_000), 100)]
    requests = [
        [
            "PATCH",
            f"{base}/Groups/{group_id}",
            json.dumps(
                {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [
                        {
                            "op": "Add",
                            "path": "members",
                            "value": [{"value": member} for member in batch],
                        }
                    ],
                }
            ),
        ]
        for batch in batches
    ]
    group_patch = row(
        f"PATCH /Groups/{{id}} +100 members (group {GROUP_SIZE:,}+), 4 at a time",
        loadgen(stack, requests[:120], scim_headers, concurrency=4),
    )
    rows.append(group_patch)
    group_patch_1 = row(
        f"PATCH /Groups/{{id}} +100 members (group {GROUP_SIZE + 12_000:,}+), 1 at a time",
        loadgen(stack, requests[120:], scim_headers, concurrency=1),
    )
    rows.append(group_patch_1)
    size = stack.sql(
        "SELECT count(*) FROM accounts_groupmembership gm JOIN accounts_group g "
        "ON g.id = gm.group_id WHERE g.scim_id = %s",
        (group_id,),
    )[0][0]
    expected_size = GROUP_SIZE + sum(len(b) for b in batches)

    log(f"GET /Groups?filter=displayName eq ...&excludedAttributes=members ({seconds}s)")
    query = urllib.parse.urlencode(
        {"filter": f'displayName eq "{GROUP_NAME}"', "excludedAttributes": "members"}
    )
    group_get, group_get_1 = measure_both(
        stack,
        f"GET /Groups?filter=displayName eq&excludedAttributes=members (group {size:,})",
        "get",
        seconds,
        BENCH_PATH=f"{base}/Groups?{query}",
        **scim_env,
    )
    rows += [group_get, group_get_1]

    log(f"simulated initial cycle: {CYCLE_USERS:,} users, {CYCLE_GROUPS} groups")
    cycle = initial_cycle(stack, base, scim_headers)
    log(
        f"cycle: requests done in {cycle['total_s']:.1f}s, last invitation after "
        f"{cycle['last_invitation_s']:.1f}s"
    )

    web_pids = children(stack.processes["gunicorn"].pid)
    web_rss = max((peak_rss_mb(pid) for pid in web_pids), default=0.0)
    celery_main = stack.processes["celery"].pid
    celery_rss = max([peak_rss_mb(celery_main)] + [peak_rss_mb(p) for p in children(celery_main)])

    # -- report ------------------------------------------------------------------------------
    ok = all(r["errors"] == 0 for r in rows)
    print("\nResults (latency in ms; wrk -t1 -c8 unless noted; group PATCH: bench/loadgen.py)\n")
    print(
        f"| {'scenario':<74} | {'requests':>8} | {'req/s':>8} | {'p50':>7} | {'p95':>7} "
        f"| {'p99':>7} | {'errors':>6} | {'other CPU':>9} |"
    )
    print(f"|{'-' * 76}|{'-' * 10}|{'-' * 10}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 8}|{'-' * 11}|")
    for r in rows:
        print(
            f"| {r['scenario']:<74} | {r['requests']:>8} | {r['rps']:>8.1f} | {r['p50']:>7.2f} "
            f"| {r['p95']:>7.2f} | {r['p99']:>7.2f} | {r['errors']:>6} | {r['foreign']:>8.0f}% |"
        )
    ratio_small = lookup_small["rps"] / healthz["rps"] * 100
    ratio_large = lookup_large["rps"] / healthz["rps"] * 100
    p50_ratio = lookup_large["p50"] / lookup_small["p50"] if lookup_small["p50"] else 0.0
    print(
        f"\nlookup throughput / healthz: {ratio_small:.1f}% at {SMALL:,}, "
        f"{ratio_large:.1f}% at {LARGE:,}"
    )
    p50_ratio_1 = lookup_large_1["p50"] / lookup_small_1["p50"] if lookup_small_1["p50"] else 0.0
    print(
        f"lookup p50 at {LARGE:,} / p50 at {SMALL:,}: {p50_ratio:.2f}x with 8 connections, "
        f"{p50_ratio_1:.2f}x with 1"
    )
    busiest = max(r["foreign"] for r in rows)
    if busiest > 10:
        print(
            f"WARNING: processes outside the benchmark used up to {busiest:.0f}% of the CPU "
            "during a scenario ('other CPU'): those rows understate what this machine can do."
        )
    print(
        f"creates: {email['created']} members, {email['invitations']} invitations "
        f"({email['sent']} marked sent), "
        f"{email['delivered']} emails at the sink ({email['unique']} distinct recipients, "
        f"{email['duplicates']} duplicates), drained {email['drain_s']:.1f}s after the load"
    )
    print(f"group size after the PATCH run: {size:,} (expected {expected_size:,})")
    print(
        f"peak RSS (VmHWM): web worker {web_rss:.0f} MB (of {len(web_pids)}), "
        f"Celery {celery_rss:.0f} MB"
    )

    exactly_once = (
        email["created"]
        == email["invitations"]
        == email["sent"]
        == email["delivered"]
        == email["unique"]
    )
    if size != expected_size:
        ok = False
    targets = [
        ("lookup >= 15% of /healthz (at 100,000)", f"{ratio_large:.1f}%", ratio_large >= 15),
        ("lookup p50 at 100k <= 1.3x p50 at 1k (c8)", f"{p50_ratio:.2f}x", p50_ratio <= 1.3),
        ("lookup p50 at 100k <= 1.3x p50 at 1k (c1)", f"{p50_ratio_1:.2f}x", p50_ratio_1 <= 1.3),
        (
            "creates >= 100/s, zero errors",
            f"{create['rps']:.1f}/s, {create['errors']} errors",
            create["rps"] >= 100 and create["errors"] == 0,
        ),
        (
            "every invitation sent exactly once",
            f"{email['created']} created / {email['delivered']} sent / {email['duplicates']} dup",
            exactly_once,
        ),
        (
            "group PATCH +100 p50 < 50 ms (4 at a time)",
            f"{group_patch['p50']:.1f} ms",
            group_patch["p50"] < 50,
        ),
        (
            "group PATCH +100 p50 < 50 ms (1 at a time)",
            f"{group_patch_1['p50']:.1f} ms",
            group_patch_1["p50"] < 50,
        ),
        (
            "group GET excludedAttributes=members p50 < 10 ms (c8)",
            f"{group_get['p50']:.1f} ms",
            group_get["p50"] < 10,
        ),
        (
            "group GET excludedAttributes=members p50 < 10 ms (c1)",
            f"{group_get_1['p50']:.1f} ms",
            group_get_1["p50"] < 10,
        ),
        (
            "initial cycle (10,000 users, 50 groups) < 5 min incl. last invitation",
            f"{cycle['last_invitation_s']:.0f} s, {cycle['error_count']} errors",
            cycle["last_invitation_s"] < 300 and cycle["error_count"] == 0,
        ),
        *(
            (
                f"{r['scenario'].removesuffix(' (1 connection)')} p50 < 200 ms",
                f"{r['p50']:.1f} ms (p95 {r['p95']:.1f})",
                r["p50"] < 200,
            )
            for r in panel_rows
        ),
        ("web worker peak RSS < 250 MB", f"{web_rss:.0f} MB", web_rss < 250),
    ]
    print(f"\n| {'target':<56} | {'measured':<34} | result |")
    print(f"|{'-' * 58}|{'-' * 36}|--------|")
    for name, measured, passed in targets:
        print(f"| {name:<56} | {measured:<34} | {'PASS' if passed else 'MISS':<6} |")
    print(
        f"\ninitial cycle: {cycle['created_users']:,} users created in {cycle['users_s']:.1f}s, "
        f"groups and members in {cycle['groups_s']:.1f}s, {cycle['invitations']:,} invitations, "
        f"{cycle['delivered']:,} delivered ({cycle['duplicates']} duplicates), last one "
        f"{cycle['last_invitation_s']:.1f}s after the cycle started; errors: {cycle['errors']}"
    )
    for op, data in cycle["operations"].items():
        print(
            f"  {op:<14} {data['count']:>6}  p50 {data['p50_ms']:6.1f} ms  "
            f"p95 {data['p95_ms']:6.1f} ms  p99 {data['p99_ms']:6.1f} ms"
        )
    if cycle["error_count"] or cycle["duplicates"] or cycle["delivered"] != cycle["invitations"]:
        ok = False
    if not exactly_once:
        ok = False
    return rows, [(n, m, "PASS" if p else "MISS") for n, m, p in targets], ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15, help="load per scenario")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--quick", action="store_true", help="only /healthz and the lookup at 1,000 (to iterate)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is required: apt-get install -y wrk")
    workdir = Path(tempfile.mkdtemp(prefix="nordpass-bench-"))
    stack = Stack(workdir)
    ok = False
    try:
        _, _, ok = run(stack, args.seconds, quick=args.quick)
    except Exception as exc:  # noqa: BLE001 - reported, then cleaned up, then exit 1
        log(f"FAILED: {exc!r}; process logs in {workdir}")
    finally:
        stack.stop_all()
        if not args.keep:
            admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            log(f"dropped {DB_NAME}")
        for db in (REDIS_DB, REDIS_CACHE_DB):
            redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()
    if ok:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        log(f"errors: see above and the logs in {workdir}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
