"""Issue 14's failure proofs on the cluster: a web node and a worker killed in the middle of an
Entra ID initial cycle, and a rolling restart of both web nodes during one.

The client is bench/cycle.py's, retrying as Entra does (connection errors, 5xx and 429 with
backoff; a 409 to a create retried after an unanswered attempt is resolved by a lookup). Every
exchange is recorded with its status, X-Served-By, X-Request-Id and times, and the end state is
read from the database and the SMTP sink.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from bench.cycle import ENTRA_RETRY, NO_RETRY, Cycle, Exchange
from nordpass_admin.cluster import Cluster
from nordpass_admin.cluster.topology import WORKER_CONCURRENCY
from tests.cluster.conftest import report, scim_headers
from tests.faults.servers import http_request, wait_until

FLUSH_SECONDS = 0.5  # SCIM_LOG_FLUSH_SECONDS, the production default, stated for the bound
# A flush starts at most one interval after the previous one ended, so a row answered more than
# an interval plus one flush's own duration before the kill is written. The flush of a few
# hundred rows takes milliseconds; the margin covers a loaded 2-core machine.
LOG_LOSS_WINDOW = FLUSH_SECONDS + 0.5
CLUSTER_ENV = {
    "SCIM_LOG_FLUSH_SECONDS": str(FLUSH_SECONDS),
    # The cycle measures failures, not the per-organization limit (the across-node tests do).
    "SCIM_RATE_LIMIT": "100000",
    "SCIM_RATE_BURST": "100000",
    # Recovery within the test: a send unfinished after 10 s counts as lost with its worker,
    # and the sweep re-enqueues a pending invitation whose last attempt is 10 s old.
    "INVITATION_SENDING_TIMEOUT": "10",
    "INVITATION_RETRY_AFTER": "10",
    "LOG_LEVEL": "WARNING",
}
# The sweep runs when no invitation was sent for this long (beat would run it within a minute).
STALLED_SECONDS = 5
SWEEP = "from accounts.services.invitations import invitation_sweep; print(invitation_sweep())"


def run_in_background(cycle: Cycle) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def run() -> None:
        result.update(cycle.run())

    thread = threading.Thread(target=run, name="entra-cycle")
    thread.start()
    return thread, result


def wait_for_progress(cycle: Cycle, share: float) -> None:
    wait_until(lambda: cycle.users_done >= share * cycle.users, timeout=300,
               what=f"{share:.0%} of the users", interval=0.02)  # fmt: skip


def event_time(cluster: Cluster, what: str) -> float:
    return next(event.at for event in reversed(cluster.events) if event.what == what)


def members_by_user_name(cluster: Cluster, tenant_id: str) -> dict[str, int]:
    rows = cluster.sql(
        "SELECT m.user_name, count(*) FROM accounts_member m"
        " JOIN accounts_organization o ON o.id = m.organization_id"
        " WHERE o.tenant_id = %s AND m.role = 'member' GROUP BY m.user_name",
        (tenant_id,),
    )
    return dict(rows)


def group_members(cluster: Cluster, tenant_id: str) -> dict[str, set[str]]:
    rows = cluster.sql(
        "SELECT g.display_name, m.user_name FROM accounts_group g"
        " JOIN accounts_organization o ON o.id = g.organization_id"
        " LEFT JOIN accounts_groupmembership gm ON gm.group_id = g.id"
        " LEFT JOIN accounts_member m ON m.id = gm.member_id"
        " WHERE o.tenant_id = %s",
        (tenant_id,),
    )
    groups: dict[str, set[str]] = {}
    for display_name, user_name in rows:
        groups.setdefault(display_name, set())
        if user_name:
            groups[display_name].add(user_name)
    return groups


def logged_request_ids(cluster: Cluster, tenant_id: str) -> set[str]:
    rows = cluster.sql(
        "SELECT r.request_id FROM integrations_scimrequest r"
        " JOIN accounts_organization o ON o.id = r.organization_id WHERE o.tenant_id = %s",
        (tenant_id,),
    )
    return {request_id for (request_id,) in rows}


def wait_for_log_flushed(cluster: Cluster, tenant_id: str) -> set[str]:
    """The provisioning log once no node has rows left to write (a count stable for three
    flush intervals)."""
    previous: list[int] = [-1]

    def stable() -> set[str] | None:
        ids = logged_request_ids(cluster, tenant_id)
        settled = len(ids) == previous[0]
        previous[0] = len(ids)
        return ids if settled else None

    return wait_until(stable, timeout=60, what="the provisioning log", interval=3 * FLUSH_SECONDS)


def invitation_statuses(cluster: Cluster, tenant_id: str) -> Counter[str]:
    rows = cluster.sql(
        "SELECT i.status, count(*) FROM accounts_invitation i"
        " JOIN accounts_organization o ON o.id = i.organization_id"
        " WHERE o.tenant_id = %s GROUP BY i.status",
        (tenant_id,),
    )
    return Counter(dict(rows))


def wait_for_invitations_sent(cluster: Cluster, tenant_id: str, count: int) -> tuple[float, int]:
    """Wait until every invitation is sent; when no send completes for a few seconds, run the
    sweep (beat's job every minute) to recover what the killed worker held. Returns the seconds
    taken and how many sweeps ran."""
    started = time.monotonic()
    progress = {"sent": -1, "at": started, "sweeps": 0}

    def all_sent() -> bool:
        statuses = invitation_statuses(cluster, tenant_id)
        if statuses == Counter({"sent": count}):
            return True
        now = time.monotonic()
        if statuses["sent"] != progress["sent"]:
            progress.update(sent=statuses["sent"], at=now)
        elif now - progress["at"] > STALLED_SECONDS:
            cluster.manage("shell", "-c", SWEEP)
            progress.update(at=time.monotonic(), sweeps=progress["sweeps"] + 1)
        return False

    wait_until(all_sent, timeout=240, what=f"{count} invitations sent", interval=1)
    return time.monotonic() - started, int(progress["sweeps"])


def invitation_attempts(cluster: Cluster, addresses: list[str]) -> dict[str, int]:
    """Delivery attempts per invitation: a send the killed worker had in flight was claimed
    twice, once by it and once after the sweep recovered it."""
    rows = cluster.sql(
        "SELECT email, attempts FROM accounts_invitation WHERE email = ANY(%s)", (addresses,)
    )
    return dict(rows)


def failed(exchanges: list[Exchange]) -> list[Exchange]:
    return [e for e in exchanges if e.status == 0 or e.status >= 500 or e.status == 429]


def test_a_web_node_and_a_worker_killed_mid_cycle_lose_nothing_but_the_documented(cluster):
    # given
    users, groups, threads = 3000, 10, 8
    tenant_id, token = cluster.tenant("killed")
    cycle = Cycle(
        port=cluster.port, base=f"/scim/v2/{tenant_id}", headers=scim_headers(token),
        users=users, groups=groups, concurrency=threads, prefix="killed", retry=ENTRA_RETRY,
    )  # fmt: skip

    # when
    started = time.monotonic()
    runner, result = run_in_background(cycle)
    try:
        wait_for_progress(cycle, 0.4)
        cluster.kill_node("a")
        cluster.kill_worker("w1")
        wait_for_progress(cycle, 0.7)
        cluster.start_node("a")
        cluster.start_worker("w1")
    finally:
        runner.join()
    cycle_seconds = time.monotonic() - started
    logged = wait_for_log_flushed(cluster, tenant_id)
    invitations_seconds, sweeps = wait_for_invitations_sent(cluster, tenant_id, users)
    time.sleep(2)  # a duplicate would arrive right behind the last send

    # then: the cycle completed, and the directory is exactly what the identity provider sent
    killed, down, back = (
        event_time(cluster, "kill a"), event_time(cluster, "killed a"), event_time(cluster, "a up")
    )  # fmt: skip
    assert result["errors"] == {}, result
    assert len(cycle.user_ids) == users
    assert members_by_user_name(cluster, tenant_id) == {cycle.user_name(i): 1 for i in range(users)}
    assert group_members(cluster, tenant_id) == {
        cycle.group_name(n): {cycle.user_name(i) for i in cycle.members_of(n)}
        for n in range(groups)
    }

    # then: no 500; the only failures are writes node a held when it died, which the balancer
    # must not replay: a 502, or on a kept-alive connection its close (HAProxy answers a
    # request that was not its connection's first as a server closing the connection would,
    # so that the client retries). At most one per client thread.
    statuses = Counter(e.status for e in cycle.exchanges)
    assert statuses[500] == 0
    failures = failed(cycle.exchanges)
    assert all(e.sent <= down and e.received >= killed for e in failures), failures
    # (a read cut on a kept-alive client connection is closed too, rather than replayed: it
    # counts here as well, and the client retries it like any other)
    assert all(e.status in (0, 502) for e in failures), failures
    assert len(failures) <= threads
    rejoined = Counter(
        http_request(cluster.port, "GET", "/healthz").headers["x-served-by"] for _ in range(4)
    )
    assert rejoined == {"a": 2, "b": 2}

    # then: each invitation was emailed once, but for at most one duplicate per send the
    # killed worker had in flight
    sent_to = Counter(r for r in cluster.smtp_recipients() if r.startswith("killed."))
    assert set(sent_to) == {cycle.user_name(i) for i in range(users)}
    duplicates = sum(count - 1 for count in sent_to.values())
    assert duplicates <= WORKER_CONCURRENCY
    duplicated = [address for address, count in sent_to.items() if count > 1]
    assert all(attempts == 2 for attempts in invitation_attempts(cluster, duplicated).values())

    # then: only node a's last flush interval of provisioning-log rows is missing
    answered = {e.request_id: e for e in cycle.exchanges if e.request_id and e.served_by}
    lost = [answered[request_id] for request_id in answered.keys() - logged]
    assert all(
        e.served_by == "a" and killed - LOG_LOSS_WINDOW <= e.received <= down for e in lost
    ), lost
    a_in_window = [
        e
        for e in answered.values()
        if e.served_by == "a" and killed - LOG_LOSS_WINDOW <= e.received <= down
    ]
    report(
        "node_killed_mid_cycle",
        {
            "users": users,
            "groups": groups,
            "client_threads": threads,
            "requests": len(cycle.exchanges),
            "statuses": {str(status): count for status, count in sorted(statuses.items())},
            "failed_requests": len(failures),
            "failed_requests_detail": [
                f"{e.method} {e.op}: {e.status or 'connection closed'}, sent "
                f"{e.sent - killed:+.3f}s, answered {e.received - killed:+.3f}s from the kill"
                for e in failures
            ],
            "failed_requests_bound": threads,
            "conflicts_resolved_by_lookup": cycle.conflicts_resolved,
            "retried_requests": sum(1 for e in cycle.exchanges if e.attempt > 1),
            "node_a_out_of_service_s": round(back - killed, 2),
            "node_a_start_to_up_s": round(back - event_time(cluster, "start a"), 2),
            "cycle_s": round(cycle_seconds, 1),
            "last_invitation_after_cycle_s": round(invitations_seconds, 1),
            "sweeps_run": sweeps,
            "emails": sum(sent_to.values()),
            "duplicate_emails": duplicates,
            "duplicate_emails_bound": WORKER_CONCURRENCY,
            "log_rows_answered": len(answered),
            "log_rows_lost": len(lost),
            "log_rows_lost_max_age_s": round(
                max((killed - e.received for e in lost), default=0), 3
            ),
            "node_a_answers_in_loss_window": len(a_in_window),
            "log_loss_window_s": LOG_LOSS_WINDOW,
        },
    )


def test_a_rolling_restart_of_both_nodes_fails_no_request(cluster):
    # given
    # Long enough that both restarts happen during the cycle: on the loaded 2-core machine they
    # were done after 600 users, and both the cycle and a node's start are CPU-bound.
    users, groups, threads = 1500, 10, 8
    tenant_id, token = cluster.tenant("rolling")
    cycle = Cycle(
        port=cluster.port, base=f"/scim/v2/{tenant_id}", headers=scim_headers(token),
        users=users, groups=groups, concurrency=threads, prefix="rolling", retry=NO_RETRY,
    )  # fmt: skip

    # when
    started = time.monotonic()
    runner, result = run_in_background(cycle)
    try:
        wait_for_progress(cycle, 0.05)
        cluster.restart_node_gracefully("a")
        cluster.restart_node_gracefully("b")
        restarts_done_at = cycle.users_done
    finally:
        runner.join()
    cycle_seconds = time.monotonic() - started
    logged = wait_for_log_flushed(cluster, tenant_id)

    # then
    assert restarts_done_at < users, "the cycle ended before the second restart: make it longer"
    assert result["errors"] == {}, result
    statuses = Counter(e.status for e in cycle.exchanges)
    assert set(statuses) <= {200, 201, 204}, statuses
    assert members_by_user_name(cluster, tenant_id) == {cycle.user_name(i): 1 for i in range(users)}
    for name in ("a", "b"):
        back = event_time(cluster, f"{name} up")
        assert any(e.served_by == name and e.sent > back for e in cycle.exchanges)
    answered = {e.request_id for e in cycle.exchanges}
    assert answered <= logged  # a graceful stop writes the log rows it holds
    report(
        "rolling_restart",
        {
            "users": users,
            "client_threads": threads,
            "requests": len(cycle.exchanges),
            "statuses": {str(status): count for status, count in sorted(statuses.items())},
            "restart_a_s": round(event_time(cluster, "a up") - event_time(cluster, "drain a"), 2),
            "restart_b_s": round(event_time(cluster, "b up") - event_time(cluster, "drain b"), 2),
            "users_done_when_both_restarted": restarts_done_at,
            "cycle_s": round(cycle_seconds, 1),
            "log_rows_lost": len(answered - logged),
        },
    )
