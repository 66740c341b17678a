"""Scenario 6 of `make bench`: an Entra ID initial cycle, simulated end to end. Own process:

    python -m bench.cycle SPEC.json   ->  prints one JSON line with the results

SPEC: {"port": N, "base": "/scim/v2/<tenant>", "headers": {...}, "users": N, "groups": N,
       "concurrency": N, "prefix": "cycle"}

What Entra's provisioning service does for a new assignment, in its order: for every user, a
`userName eq` lookup (nothing found) then the create with its work email; then for every group
a `displayName eq` lookup (excluding members), the create without members, and PATCH requests
adding the members in batches of at most 100 (Entra's own batch size). Users are spread evenly
over the groups. Runs `concurrency` requests at a time, each worker with its own keep-alive
connection, and reports per-operation latency, errors and the time of each phase.
"""

from __future__ import annotations

import http.client
import json
import queue
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from functools import partial
from typing import Any

from bench.loadgen import percentile

PATCH_BATCH = 100


class Client:
    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port, self.headers = port, headers
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = json.dumps(body) if body is not None else None
        try:
            self.connection.request(method, path, body=payload, headers=self.headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            return 0, None
        return response.status, json.loads(raw) if raw else None


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}

    def timed(self, op: str, call: Callable[[], tuple[int, Any]], ok: int) -> Any:
        started = time.perf_counter()
        status, body = call()
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latency.setdefault(op, []).append(elapsed)
            if status != ok:
                self.errors[f"{op} {status}"] = self.errors.get(f"{op} {status}", 0) + 1
        return body if status == ok else None


def run_parallel(
    items: list[Any], concurrency: int, job: Callable[[Client, Any], None], spec: Any
) -> None:
    work: queue.Queue[Any] = queue.Queue()
    for item in items:
        work.put(item)

    def worker() -> None:
        client = Client(spec["port"], spec["headers"])
        while True:
            try:
                item = work.get_nowait()
            except queue.Empty:
                return
            job(client, item)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as spec_file:
        spec = json.load(spec_file)
    base, prefix = spec["base"], spec["prefix"]
    stats = Stats()
    user_ids: dict[int, str] = {}
    ids_lock = threading.Lock()

    def provision_user(client: Client, index: int) -> None:
        name = f"{prefix}.user{index}@cycle.example"
        query = urllib.parse.urlencode({"filter": f'userName eq "{name}"'})
        stats.timed("lookup user", lambda: client.call("GET", f"{base}/Users?{query}"), 200)
        body = {
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            ],
            "externalId": f"{prefix}-{index}",
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
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
        }
        created = stats.timed(
            "create user", lambda: client.call("POST", f"{base}/Users", body), 201
        )
        if created:
            with ids_lock:
                user_ids[index] = created["id"]

    def provision_group(client: Client, number: int) -> None:
        name = f"{prefix} group {number}"
        query = urllib.parse.urlencode(
            {"filter": f'displayName eq "{name}"', "excludedAttributes": "members"}
        )
        stats.timed("lookup group", lambda: client.call("GET", f"{base}/Groups?{query}"), 200)
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
            "externalId": f"{prefix}-group-{number}",
        }
        created = stats.timed(
            "create group", lambda: client.call("POST", f"{base}/Groups", body), 201
        )
        if not created:
            return
        members = [
            user_ids[i] for i in range(number, spec["users"], spec["groups"]) if i in user_ids
        ]
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
            path = f"{base}/Groups/{created['id']}"
            stats.timed("add members", partial(client.call, "PATCH", path, patch), 204)

    started = time.perf_counter()
    run_parallel(list(range(spec["users"])), spec["concurrency"], provision_user, spec)
    users_done = time.perf_counter()
    run_parallel(list(range(spec["groups"])), spec["concurrency"], provision_group, spec)
    finished = time.perf_counter()
    print(
        json.dumps(
            {
                "users_s": users_done - started,
                "groups_s": finished - users_done,
                "total_s": finished - started,
                "created_users": len(user_ids),
                "errors": stats.errors,
                "operations": {
                    op: {
                        "count": len(values),
                        "p50_ms": percentile(values, 50) * 1000,
                        "p95_ms": percentile(values, 95) * 1000,
                        "p99_ms": percentile(values, 99) * 1000,
                    }
                    for op, values in stats.latency.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
