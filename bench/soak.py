"""`make soak`: a sustained load of mixed Entra ID traffic against the production stack, then a
check that the data is consistent and that memory did not grow.

Stack (bench/run.py's, reused): a throwaway PostgreSQL database `nordpass_soak` (dropped at the
end), Redis db 11 as the Celery broker, gunicorn (2 workers x 4 threads), a Celery worker and an
SMTP sink. The load comes from a separate process (`python -m bench.soak generate SPEC`) at
SOAK_RATE requests per second for SOAK_SECONDS (default 100/s for 120 s): userName lookups,
creates, profile PATCHes, group member adds and removes, deactivations and group lists without
members, each request in the form Entra ID sends it.

Afterwards: member count = successful creates, no duplicate userName, every invitation of an
active member delivered exactly once at the SMTP sink (at most once for deactivated ones), group
memberships = what the load generator expects, and the RSS of every web and worker process grew
less than SOAK_RSS_GROWTH_MB between the end of the warm-up and the end. Exits 1 on any 5xx,
connection error or failed check.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import queue
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench.loadgen import percentile
from bench.run import PG, PYTHON, ROOT, VENV_BIN, Stack, admin_sql, children, log, status_mb

DB_NAME = "nordpass_soak"
REDIS_DB = 11
ORG_SLUG = "soak"
OWNER_EMAIL = "owner@soak.example"
GROUPS = 8
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# The mix, in parts per hundred requests.
MIX = {
    "lookup": 30,  # GET /Users?filter=userName eq "..." (Entra's match before every change)
    "lookup_missing": 8,  # the same for someone not provisioned yet
    "create": 15,  # POST /Users
    "patch_user": 16,  # PATCH /Users/{id}: replace displayName, name, title
    "group_add": 12,  # PATCH /Groups/{id}: add one member
    "group_remove": 6,  # PATCH /Groups/{id}: remove one member
    # PATCH /Users/{id}: active "False". Rare, as in real directories: the mass-deprovisioning
    # guard (DEPROVISION_GUARD_*) holds more than 20% of the members within an hour, with 429.
    "deactivate": 1,
    "list_groups": 6,  # GET /Groups?excludedAttributes=members
    "group_lookup": 6,  # GET /Groups?filter=displayName eq "..."&excludedAttributes=members
}
EXPECTED = {
    "lookup": {200},
    "lookup_missing": {200},
    "create": {201},
    "patch_user": {200, 204},
    "group_add": {200, 204},
    "group_remove": {200, 204},
    "deactivate": {200, 204},
    "list_groups": {200},
    "group_lookup": {200},
}


# -- the load generator (its own process) ---------------------------------------------------------


@dataclass
class Person:
    scim_id: str
    user_name: str
    active: bool = True


@dataclass
class Model:
    """What the identity provider believes: who exists, who is active, who is in which group."""

    people: list[Person] = field(default_factory=list)
    groups: dict[str, set[str]] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, rng: random.Random, *, active: bool = True) -> Person | None:
        """A person no other request is changing now, so the expected state stays exact."""
        with self.lock:
            for _ in range(20):
                if not self.people:
                    return None
                person = rng.choice(self.people)
                if person.scim_id not in self.busy and (person.active or not active):
                    self.busy.add(person.scim_id)
                    return person
        return None

    def release(self, person: Person) -> None:
        with self.lock:
            self.busy.discard(person.scim_id)


class Generator:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.port: int = spec["port"]
        self.base: str = spec["base"]
        self.headers: dict[str, str] = spec["headers"]
        self.rate: float = spec["rate"]
        self.seconds: float = spec["seconds"]
        self.model = Model(groups={g["id"]: set() for g in spec["groups"]})
        self.group_names = [g["displayName"] for g in spec["groups"]]
        self.results: list[tuple[str, int, float]] = []
        self.creates: list[str] = []
        self.lock = threading.Lock()
        self.sequence = 0
        self.local = threading.local()
        self.kinds = list(MIX)
        self.weights = [MIX[k] for k in self.kinds]

    def connection(self) -> http.client.HTTPConnection:
        if getattr(self.local, "connection", None) is None:
            self.local.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection: http.client.HTTPConnection = self.local.connection
        return connection

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        try:
            connection = self.connection()
            data = json.dumps(body) if body is not None else None
            connection.request(method, self.base + path, body=data, headers=self.headers)
            response = connection.getresponse()
            raw = response.read()
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                self.local.connection = None
            return response.status, (json.loads(raw) if raw[:1] == b"{" else None)
        except (OSError, http.client.HTTPException):
            self.local.connection = None
            return 0, None

    def next_name(self) -> str:
        with self.lock:
            self.sequence += 1
            return f"soak.{self.sequence}.{secrets.token_hex(2)}@soak.example"

    def one(self, rng: random.Random) -> None:
        kind = rng.choices(self.kinds, self.weights)[0]
        if len(self.model.people) < 20 and kind not in ("list_groups", "group_lookup"):
            kind = "create"  # the first seconds: people to work on
        started = time.perf_counter()
        done = self.perform(kind, rng)
        if done is None:  # nothing to do (everyone busy): not a request
            return
        kind, status = done
        elapsed = time.perf_counter() - started
        with self.lock:
            self.results.append((kind, status, elapsed))

    def perform(self, kind: str, rng: random.Random) -> tuple[str, int] | None:
        model = self.model
        if kind in ("lookup", "lookup_missing"):
            if kind == "lookup" and model.people:
                name = rng.choice(model.people).user_name
            else:
                name = f"nobody.{secrets.token_hex(4)}@soak.example"
            query = urllib.parse.quote(f'userName eq "{name}"')
            return kind, self.call("GET", f"/Users?filter={query}")[0]
        if kind == "create":
            name = self.next_name()
            status, body = self.call("POST", "/Users", entra_user(name))
            if status == 201 and body:
                with model.lock:
                    model.people.append(Person(body["id"], name))
                with self.lock:
                    self.creates.append(name)
            return kind, status
        if kind == "list_groups":
            return kind, self.call("GET", "/Groups?excludedAttributes=members")[0]
        if kind == "group_lookup":
            name = rng.choice(self.group_names)
            query = urllib.parse.urlencode(
                {"filter": f'displayName eq "{name}"', "excludedAttributes": "members"}
            )
            return kind, self.call("GET", f"/Groups?{query}")[0]
        person = model.take(rng)
        if person is None:
            return None
        try:
            return self.change(kind, person, rng)
        finally:
            model.release(person)

    def change(self, kind: str, person: Person, rng: random.Random) -> tuple[str, int]:
        model = self.model
        if kind == "patch_user":
            title = rng.choice(["Engineer", "Designer", "Manager", "Analyst"])
            body = {
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "Replace", "path": "displayName", "value": f"Soak {title}"},
                    {"op": "Replace", "path": "name.givenName", "value": "Soak"},
                    {"op": "Replace", "path": "name.familyName", "value": title},
                    {"op": "Replace", "path": "title", "value": title},
                ],
            }
            return kind, self.call("PATCH", f"/Users/{person.scim_id}", body)[0]
        if kind == "deactivate":
            body = {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            }
            status = self.call("PATCH", f"/Users/{person.scim_id}", body)[0]
            if status in EXPECTED[kind]:
                person.active = False
            return kind, status
        # Real changes only: an add goes to a group the person is not in, a remove to one they
        # are in (with none, the request becomes an add and is counted as one).
        with model.lock:
            inside = [g for g, ids in model.groups.items() if person.scim_id in ids]
            outside = [g for g in model.groups if g not in inside]
        if kind == "group_remove" and inside:
            op, group_id = "Remove", rng.choice(inside)
        elif outside:
            op, group_id = "Add", rng.choice(outside)
        else:
            op, group_id = "Remove", rng.choice(inside)
        kind = "group_add" if op == "Add" else "group_remove"
        body = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": op, "path": "members", "value": [{"value": person.scim_id}]}],
        }
        status = self.call("PATCH", f"/Groups/{group_id}", body)[0]
        if status in EXPECTED[kind]:
            with model.lock:
                if op == "Add":
                    model.groups[group_id].add(person.scim_id)
                else:
                    model.groups[group_id].discard(person.scim_id)
        return kind, status

    def run(self) -> dict[str, Any]:
        ticks: queue.Queue[int | None] = queue.Queue()
        threads_count = 32

        def worker(seed: int) -> None:
            rng = random.Random(seed)  # noqa: S311 - load shape, not security
            while ticks.get() is not None:
                self.one(rng)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_count)]
        for thread in threads:
            thread.start()
        started = time.perf_counter()
        sent = 0
        # Open loop: requests are due at a fixed rate whatever the latency; a backlog shows up
        # as a lower achieved rate and as `late` below.
        while (now := time.perf_counter() - started) < self.seconds:
            due = int(now * self.rate)
            while sent < due:
                ticks.put(sent)
                sent += 1
            time.sleep(0.002)
        late = ticks.qsize()
        for _ in threads:
            ticks.put(None)
        for thread in threads:
            thread.join()
        duration = time.perf_counter() - started
        return {
            "duration": duration,
            "scheduled": sent,
            "late_at_end": late,
            "results": self.results,
            "creates": self.creates,
            "deactivated": [p.user_name for p in self.model.people if not p.active],
            "groups": {g: sorted(members) for g, members in self.model.groups.items()},
        }


def entra_user(user_name: str) -> dict[str, Any]:
    return {
        "schemas": [USER, ENTERPRISE],
        "externalId": secrets.token_hex(8),
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Soak Person", "familyName": "Person", "givenName": "Soak"},
        "roles": [],
    }


def generate(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    print(json.dumps(Generator(spec).run()))


# -- the orchestrator -----------------------------------------------------------------------------


class SoakStack(Stack):
    """bench/run.py's stack on the soak's own database and Redis db."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.env["DATABASE_URL"] = f"{PG}/{DB_NAME}"
        self.env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:6379/{REDIS_DB}"
        # Per-process caches, explicitly: unset, CACHE_URL would follow the Redis broker.
        self.env["CACHE_URL"] = "locmemcache://"

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True) as connection:
            cursor = connection.execute(query, params)
            return cursor.fetchall() if cursor.description else []


def clear_broker_keys() -> None:
    """Delete what an earlier soak left in its own Redis db (old task messages would refer to
    rows of a dropped database). Only db 11, which nothing else uses; never a FLUSHALL."""
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    keys = list(client.scan_iter(count=1000))
    if keys:
        client.delete(*keys)


def rss_mb(pid: int) -> float:
    return status_mb(pid, "VmRSS")


class RssSampler(threading.Thread):
    """RSS of each gunicorn worker and Celery process every `interval` seconds."""

    def __init__(self, stack: SoakStack, interval: float) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.interval = interval
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.stopping = threading.Event()
        self.started = time.monotonic()

    def processes(self) -> dict[str, int]:
        found = {}
        for n, pid in enumerate(sorted(children(self.stack.processes["gunicorn"].pid))):
            found[f"web worker {n + 1}"] = pid
        celery = self.stack.processes["celery"].pid
        found["celery main"] = celery
        for n, pid in enumerate(sorted(children(celery))):
            found[f"celery child {n + 1}"] = pid
        return found

    def run(self) -> None:
        while not self.stopping.is_set():
            sample = {name: rss_mb(pid) for name, pid in self.processes().items()}
            self.samples.append((time.monotonic() - self.started, sample))
            self.stopping.wait(self.interval)


def load(stack: SoakStack, spec: dict[str, Any]) -> dict[str, Any]:
    path = stack.workdir / "soak-spec.json"
    path.write_text(json.dumps(spec))
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [PYTHON, "-m", "bench.soak", "generate", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def main() -> int:
    seconds = float(os.environ.get("SOAK_SECONDS", "120"))
    rate = float(os.environ.get("SOAK_RATE", "100"))
    growth_bound = float(os.environ.get("SOAK_RSS_GROWTH_MB", "40"))
    warmup = min(20.0, seconds / 4)
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    stack = SoakStack(workdir)
    checks: list[tuple[str, str, bool]] = []
    try:
        log(f"creating database {DB_NAME} and migrating (work directory {workdir})")
        admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME}")
        admin_sql(f"CREATE DATABASE {DB_NAME}")
        clear_broker_keys()
        stack.manage("migrate", "--noinput")
        stack.manage(
            "create_organization", "--name", "Soak Corp", "--slug", ORG_SLUG,
            "--owner-email", OWNER_EMAIL, "--owner-name", "Soak Owner",
            "--owner-password", secrets.token_urlsafe(18), "--no-input",
        )  # fmt: skip
        credentials = stack.manage("scim_credentials", "--organization", ORG_SLUG)
        values = dict(line.split(":", 1) for line in credentials.splitlines() if ":" in line)
        token = values["Secret token"].strip()
        base = urllib.parse.urlsplit(values["Tenant URL"].strip()).path.rstrip("/")
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/scim+json",
            "User-Agent": "Azure-SCIM-Provisioning (soak)",
        }

        log("starting the SMTP sink, the Celery worker and gunicorn (2 workers x 4 threads)")
        stack.start(
            "smtp",
            [PYTHON, "-m", "bench.smtp_sink", "--port", str(stack.smtp_port),
             "--log", str(stack.mail_log)],
        )  # fmt: skip
        stack.start(
            "celery",
            [str(VENV_BIN / "celery"), "-A", "nordpass_admin", "worker", "--loglevel", "WARNING",
             "--without-gossip", "--without-mingle"],
        )  # fmt: skip
        stack.start(
            "gunicorn",
            [str(VENV_BIN / "gunicorn"), "nordpass_admin.wsgi:application",
             "--bind", f"127.0.0.1:{stack.port}", "--workers", "2", "--threads", "4",
             "--worker-class", "gthread"],
        )  # fmt: skip
        stack.wait_http("/healthz")
        stack.wait_http("/readyz")
        groups = []
        for n in range(GROUPS):
            status, body = stack.http(
                "POST",
                base + "/Groups",
                {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                 "displayName": f"Soak Group {n}", "externalId": f"soak-{n}", "members": []},
                headers,
            )  # fmt: skip
            if status != 201:
                raise RuntimeError(f"group create failed: {status} {body!r}")
            groups.append({"id": body["id"], "displayName": body["displayName"]})

        sampler = RssSampler(stack, interval=5)
        sampler.start()
        log(f"load: {rate:.0f} req/s for {seconds:.0f}s of mixed Entra ID traffic")
        spec = {
            "port": stack.port,
            "base": base,
            "headers": headers,
            "rate": rate,
            "seconds": seconds,
            "groups": groups,
        }
        result = load(stack, spec)
        sampler.stopping.set()
        sampler.join()

        creates, deactivated = result["creates"], set(result["deactivated"])
        log(f"load done; waiting for the invitations of {len(creates)} creates to drain")
        pattern = "soak.%"

        def unsent() -> int:
            return int(
                stack.sql(
                    "SELECT count(*) FROM accounts_invitation i JOIN accounts_member m "
                    "ON m.id = i.member_id WHERE m.user_name_key LIKE %s "
                    "AND i.status IN ('pending', 'sending')",
                    (pattern,),
                )[0][0]
            )

        drain_started = time.monotonic()
        while unsent() and time.monotonic() - drain_started < 180:
            time.sleep(1)
        drain = time.monotonic() - drain_started
        time.sleep(3)  # a duplicate would arrive right behind the last one

        # -- the numbers ------------------------------------------------------------------------
        results = result["results"]
        statuses = Counter(status for _, status, _ in results)
        by_kind: dict[str, Counter[int]] = {}
        for kind, status, _ in results:
            by_kind.setdefault(kind, Counter())[status] += 1
        latencies = [elapsed for _, _, elapsed in results]
        unexpected = sum(
            count
            for kind, counter in by_kind.items()
            for status, count in counter.items()
            if status not in EXPECTED[kind]
        )
        server_errors = sum(count for status, count in statuses.items() if status >= 500)
        no_answer = statuses.get(0, 0)

        # -- the data ---------------------------------------------------------------------------
        members = stack.sql(
            "SELECT m.user_name, m.status, m.scim_id::text FROM accounts_member m "
            "JOIN accounts_organization o ON o.id = m.organization_id "
            "WHERE o.slug = %s AND m.role <> 'owner'",
            (ORG_SLUG,),
        )
        duplicates = stack.sql(
            "SELECT organization_id, user_name_key, count(*) FROM accounts_member "
            "GROUP BY organization_id, user_name_key HAVING count(*) > 1"
        )
        sent = dict(
            stack.sql(
                "SELECT m.user_name, count(*) FILTER (WHERE i.status = 'sent') "
                "FROM accounts_member m LEFT JOIN accounts_invitation i ON i.member_id = m.id "
                "WHERE m.user_name_key LIKE %s GROUP BY m.user_name",
                (pattern,),
            )
        )
        delivered = Counter(
            line.strip() for line in stack.mail_log.read_text().splitlines() if line.strip()
        )
        active = [name for name in creates if name not in deactivated]
        once = [name for name in active if delivered[name] == 1 and sent.get(name) == 1]
        at_most_once = all(delivered[name] <= 1 for name in deactivated)
        owner_mail = delivered.pop(OWNER_EMAIL, 0)  # the guard's notice, if it held anything
        strays = set(delivered) - set(creates)
        memberships = stack.sql(
            "SELECT g.scim_id::text, m.scim_id::text FROM accounts_groupmembership gm "
            "JOIN accounts_group g ON g.id = gm.group_id "
            "JOIN accounts_member m ON m.id = gm.member_id"
        )
        actual_groups: dict[str, set[str]] = {g["id"]: set() for g in groups}
        for group_id, member_id in memberships:
            actual_groups.setdefault(group_id.replace("-", ""), set()).add(member_id)
        expected_groups = {g: set(ids) for g, ids in result["groups"].items()}
        normalized_actual = {
            g.replace("-", ""): {m.replace("-", "") for m in ids}
            for g, ids in actual_groups.items()
        }
        normalized_expected = {
            g.replace("-", ""): {m.replace("-", "") for m in ids}
            for g, ids in expected_groups.items()
        }
        suspended = {name for name, status, _ in members if status == "suspended"}

        # -- memory -----------------------------------------------------------------------------
        samples = sampler.samples
        names = sorted({name for _, sample in samples for name in sample})
        memory: list[dict[str, Any]] = []
        for name in names:
            series = [(t, s[name]) for t, s in samples if s.get(name)]
            if not series:
                continue
            after_warmup = [v for t, v in series if t >= warmup] or [series[-1][1]]
            memory.append(
                {
                    "process": name,
                    "first": series[0][1],
                    "after_warmup": after_warmup[0],
                    "peak": max(v for _, v in series),
                    "last": series[-1][1],
                    "growth": series[-1][1] - after_warmup[0],
                }
            )

        checks = [
            ("no 5xx", str(server_errors), server_errors == 0),
            ("every request answered", f"{no_answer} without an answer", no_answer == 0),
            ("only expected statuses", f"{unexpected} unexpected", unexpected == 0),
            (
                "members = successful creates",
                f"{len(members)} members / {len(creates)} creates",
                len(members) == len(creates),
            ),
            ("no duplicate userName", f"{len(duplicates)} duplicates", not duplicates),
            (
                "active members: invitation sent exactly once",
                f"{len(once)} of {len(active)}; {sum(delivered.values())} invitation emails, "
                f"{len(strays)} to unknown addresses ({owner_mail} to the owner)",
                len(once) == len(active) and not strays,
            ),
            (
                "deactivated members: at most one email, suspended",
                f"{len(deactivated)} deactivated, {len(deactivated & suspended)} suspended",
                at_most_once and deactivated <= suspended,
            ),
            (
                "group memberships = expected",
                f"{sum(map(len, normalized_actual.values()))} memberships in {len(groups)} groups",
                normalized_actual == normalized_expected,
            ),
            (
                f"RSS growth after warm-up < {growth_bound:.0f} MB per process",
                f"max {max((m['growth'] for m in memory), default=0.0):.1f} MB",
                all(m["growth"] < growth_bound for m in memory),
            ),
        ]

        # -- report -----------------------------------------------------------------------------
        duration = result["duration"]
        print(f"\nSoak: {platform.node()} ({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}")
        print(
            f"{len(results)} requests in {duration:.1f}s = {len(results) / duration:.1f} req/s "
            f"(target {rate:.0f}/s; {result['late_at_end']} still queued at the end)"
        )
        print(
            f"latency ms: p50 {percentile(latencies, 50) * 1000:.1f}, "
            f"p95 {percentile(latencies, 95) * 1000:.1f}, "
            f"p99 {percentile(latencies, 99) * 1000:.1f}, max {max(latencies) * 1000:.1f}"
        )
        print(f"statuses: {dict(sorted(statuses.items()))}")
        print("\n| request | count | statuses | p50 ms | p95 ms | p99 ms |")
        print("|---|---:|---|---:|---:|---:|")
        for kind in MIX:
            times = [e for k, _, e in results if k == kind]
            counter = by_kind.get(kind, Counter())
            print(
                f"| {kind} | {len(times)} | {dict(sorted(counter.items()))} "
                f"| {percentile(times, 50) * 1000:.1f} | {percentile(times, 95) * 1000:.1f} "
                f"| {percentile(times, 99) * 1000:.1f} |"
            )
        print(f"\ninvitations drained {drain:.1f}s after the load")
        print("\n| process | RSS first | after warm-up | peak | last | growth |")
        print("|---|---:|---:|---:|---:|---:|")
        for m in memory:
            print(
                f"| {m['process']} | {m['first']:.0f} MB | {m['after_warmup']:.0f} MB "
                f"| {m['peak']:.0f} MB | {m['last']:.0f} MB | {m['growth']:+.1f} MB |"
            )
        print("\n| check | measured | result |")
        print("|---|---|---|")
        for name, measured, passed in checks:
            print(f"| {name} | {measured} | {'PASS' if passed else 'FAIL'} |")
    except Exception:
        log("the soak failed to run; logs are in " + str(workdir))
        raise
    finally:
        stack.stop_all()
        try:
            admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME}")
            clear_broker_keys()
        except Exception as exc:  # noqa: BLE001 - cleanup must not hide the result
            log(f"cleanup failed: {exc}")
    failed = [name for name, _, passed in checks if not passed]
    if failed:
        log(f"FAILED: {', '.join(failed)} (logs in {workdir})")
        return 1
    log("all checks passed")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "generate":
        generate(sys.argv[2])
    else:
        sys.exit(main())
