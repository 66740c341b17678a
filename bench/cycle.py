"""An Entra ID initial cycle, simulated end to end: scenario 6 of `make bench`, and the client of
the cluster tests (tests/cluster/), which add retries and read every exchange.

    python -m bench.cycle SPEC.json   ->  prints one JSON line with the results

SPEC: {"port": N, "base": "/scim/v2/<tenant>", "headers": {...}, "users": N, "groups": N,
       "concurrency": N, "prefix": "cycle"}

What Entra's provisioning service does for a new assignment, in its order: for every user, a
`userName eq` lookup (nothing found) then the create with its work email; then for every group
a `displayName eq` lookup (excluding members), the create without members, and PATCH requests
adding the members in batches of at most 100 (Entra's own batch size). Users are spread evenly
over the groups. Runs `concurrency` requests at a time, each worker with its own keep-alive
connection, and reports per-operation latency, errors and the time of each phase.

With a `RetryPolicy` the client retries as Entra does: a connection error, a 5xx or a 429 is
tried again after a backoff (Retry-After when the answer has one). A create that gets 409
`uniqueness` after an earlier attempt of it may have landed is resolved by looking the resource
up, and the cycle carries on with its id. The benchmark runs without retries: an error there is
a result to report, not something to hide.
"""

from __future__ import annotations

import http.client
import json
import queue
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.loadgen import percentile

PATCH_BATCH = 100
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are tried again, how often, and after how long."""

    attempts: int = 1
    base_seconds: float = 0.25
    max_seconds: float = 4.0

    @staticmethod
    def retryable(status: int) -> bool:
        return status == 0 or status == 429 or status >= 500

    def delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return float(retry_after)
        return float(min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1)))


NO_RETRY = RetryPolicy()
ENTRA_RETRY = RetryPolicy(attempts=10)


@dataclass(frozen=True)
class Reply:
    status: int  # 0: no HTTP answer (connection refused, reset or closed before a response)
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class Exchange:
    """One HTTP request as the client saw it; times are time.monotonic()."""

    op: str
    method: str
    attempt: int
    status: int
    served_by: str
    request_id: str
    sent: float
    received: float


class Client:
    """One keep-alive connection, reopened after an error."""

    def __init__(
        self, port: int, headers: dict[str, str], host: str = "127.0.0.1", timeout: float = 60
    ) -> None:
        self.host, self.port, self.headers, self.timeout = host, port, headers, timeout
        self.connection = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def call(self, method: str, path: str, body: Any = None) -> Reply:
        payload = json.dumps(body) if body is not None else None
        try:
            self.connection.request(method, path, body=payload, headers=self.headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = self._connect()
            return Reply(0, None, {})
        headers = {name.lower(): value for name, value in response.getheaders()}
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw
        return Reply(response.status, parsed, headers)

    def close(self) -> None:
        self.connection.close()


def run_parallel(
    items: list[Any], concurrency: int, job: Callable[[Client, Any], None], make_client: Any
) -> None:
    work: queue.Queue[Any] = queue.Queue()
    for item in items:
        work.put(item)

    def worker() -> None:
        client = make_client()
        try:
            while True:
                try:
                    item = work.get_nowait()
                except queue.Empty:
                    return
                job(client, item)
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@dataclass
class Cycle:
    """An initial cycle against one Tenant URL. `run()` returns the summary; `exchanges`,
    `user_ids`, `group_ids` and `group_members` stay for inspection, `users_done` grows as users
    are provisioned (another thread may watch it)."""

    port: int
    base: str
    headers: dict[str, str]
    users: int
    groups: int
    concurrency: int
    prefix: str
    retry: RetryPolicy = NO_RETRY
    host: str = "127.0.0.1"
    user_ids: dict[int, str] = field(default_factory=dict)
    group_ids: dict[int, str] = field(default_factory=dict)
    group_members: dict[int, list[str]] = field(default_factory=dict)
    exchanges: list[Exchange] = field(default_factory=list)
    latency: dict[str, list[float]] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)
    conflicts_resolved: int = 0
    users_done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def user_name(self, index: int) -> str:
        return f"{self.prefix}.user{index}@cycle.example"

    def group_name(self, number: int) -> str:
        return f"{self.prefix} group {number}"

    def members_of(self, number: int) -> list[int]:
        """The user indexes group `number` gets: users are spread evenly over the groups."""
        return list(range(number, self.users, self.groups))

    # -- requests ------------------------------------------------------------------------------

    def request(
        self, client: Client, op: str, method: str, path: str, body: Any, ok: set[int]
    ) -> Reply | None:
        """Send, retrying per the policy; the final reply if its status is in `ok` (or a 409 to
        a create retried after an unanswered attempt, for the caller to resolve), else None
        with the failure counted."""
        reply = Reply(0, None, {})
        for attempt in range(1, self.retry.attempts + 1):
            sent = time.monotonic()
            reply = client.call(method, path, body)
            received = time.monotonic()
            exchange = Exchange(
                op, method, attempt, reply.status, reply.headers.get("x-served-by", ""),
                reply.headers.get("x-request-id", ""), sent, received,
            )  # fmt: skip
            with self.lock:
                self.exchanges.append(exchange)
                self.latency.setdefault(op, []).append(received - sent)
            if reply.status in ok:
                return reply
            if reply.status == 409 and method == "POST" and attempt > 1:
                return reply  # an earlier attempt may have created it: the caller looks it up
            if not self.retry.retryable(reply.status) or attempt == self.retry.attempts:
                break
            time.sleep(self.retry.delay(attempt, reply.headers.get("retry-after")))
        with self.lock:
            self.failures[f"{op} {reply.status}"] += 1
        return None

    def lookup(self, client: Client, op: str, resource: str, query: dict[str, str]) -> str | None:
        path = f"{self.base}/{resource}?{urllib.parse.urlencode(query)}"
        reply = self.request(client, op, "GET", path, None, {200})
        if reply is None or not isinstance(reply.body, dict):
            return None
        found = reply.body.get("Resources") or []
        return str(found[0]["id"]) if found else None

    def create(
        self,
        client: Client,
        op: str,
        resource: str,
        body: dict[str, Any],
        find: Callable[[], str | None],
    ) -> str | None:
        """POST; a 409 after a retry means an earlier attempt created it before its answer was
        lost: its id by lookup."""
        reply = self.request(client, op, "POST", f"{self.base}/{resource}", body, {201})
        if reply is None:
            return None
        if reply.status == 201:
            return str(reply.body["id"])
        found = find()
        if found is None:
            with self.lock:
                self.failures[f"{op} 409"] += 1
        else:
            with self.lock:
                self.conflicts_resolved += 1
        return found

    # -- the cycle -----------------------------------------------------------------------------

    def user_body(self, index: int) -> dict[str, Any]:
        name = self.user_name(index)
        return {
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "externalId": f"{self.prefix}-{index}",
            "userName": name,
            "active": True,
            "displayName": f"Cycle User {index}",
            "emails": [{"primary": True, "type": "work", "value": name}],
            "meta": {"resourceType": "User"},
            "name": {
                "formatted": f"Cycle User {index}",
                "familyName": f"User {index}",
                "givenName": "Cycle",
            },
            "title": "Engineer",
            ENTERPRISE_SCHEMA: {"department": "R&D"},
        }

    def provision_user(self, client: Client, index: int) -> None:
        query = {"filter": f'userName eq "{self.user_name(index)}"'}

        def find() -> str | None:
            return self.lookup(client, "lookup user", "Users", query)

        scim_id = find() or self.create(client, "create user", "Users", self.user_body(index), find)
        with self.lock:
            if scim_id:
                self.user_ids[index] = scim_id
            self.users_done += 1

    def provision_group(self, client: Client, number: int) -> None:
        name = self.group_name(number)
        query = {"filter": f'displayName eq "{name}"', "excludedAttributes": "members"}

        def find() -> str | None:
            return self.lookup(client, "lookup group", "Groups", query)

        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
            "externalId": f"{self.prefix}-group-{number}",
        }
        group_id = find() or self.create(client, "create group", "Groups", body, find)
        if group_id is None:
            return
        members = [self.user_ids[i] for i in self.members_of(number) if i in self.user_ids]
        with self.lock:
            self.group_ids[number] = group_id
            self.group_members[number] = members
        for offset in range(0, len(members), PATCH_BATCH):
            patch = {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {
                        "op": "Add",
                        "path": "members",
                        "value": [{"value": m} for m in members[offset : offset + PATCH_BATCH]],
                    }
                ],
            }
            path = f"{self.base}/Groups/{group_id}"
            self.request(client, "add members", "PATCH", path, patch, {200, 204})

    def run(self) -> dict[str, Any]:
        def make_client() -> Client:
            return Client(self.port, self.headers, self.host)

        started = time.perf_counter()
        run_parallel(list(range(self.users)), self.concurrency, self.provision_user, make_client)
        users_done = time.perf_counter()
        run_parallel(list(range(self.groups)), self.concurrency, self.provision_group, make_client)
        finished = time.perf_counter()
        return {
            "users_s": users_done - started,
            "groups_s": finished - users_done,
            "total_s": finished - started,
            "created_users": len(self.user_ids),
            "errors": dict(self.failures),
            "conflicts_resolved": self.conflicts_resolved,
            "operations": {
                op: {
                    "count": len(values),
                    "p50_ms": percentile(values, 50) * 1000,
                    "p95_ms": percentile(values, 95) * 1000,
                    "p99_ms": percentile(values, 99) * 1000,
                }
                for op, values in self.latency.items()
            },
        }


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as spec_file:
        spec = json.load(spec_file)
    cycle = Cycle(
        port=spec["port"],
        base=spec["base"],
        headers=spec["headers"],
        users=spec["users"],
        groups=spec["groups"],
        concurrency=spec["concurrency"],
        prefix=spec["prefix"],
    )
    print(json.dumps(cycle.run()))


if __name__ == "__main__":
    main()
