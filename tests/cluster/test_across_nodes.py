"""What must hold across web nodes and Celery processes, proved on two real nodes behind HAProxy:
credentials changed through one node's panel take effect on the other at once, the
per-organization rate limit and the mass-deprovisioning guard count for the nodes together, and a
second beat started by mistake duplicates nothing.

Each test talks to the nodes directly (bypassing the balancer) when it must say which node
answers, and through the balancer otherwise.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass
from html import unescape
from typing import Any

import requests

from tests.cluster.conftest import report
from tests.faults.servers import wait_until

PERIODIC_SECONDS = 2.0
CLUSTER_ENV = {
    # Refused tokens are the subject of two tests here: the limit on failed attempts per client
    # address (tested in tests/integrations/scim) would answer 429 instead of 401 after 20.
    "SCIM_AUTH_FAILURE_LIMIT": "0",
    # Every periodic task every 2 s, so a second beat shows within seconds what it would do.
    "PERIODIC_TASK_SECONDS": ",".join(
        f"{name}={PERIODIC_SECONDS}"
        for name in (
            "expire-scim-token-overlaps",
            "prune-scim-request-log",
            "invitation-sweep",
            "deprovision-hold-sweep",
            "email-domain-recheck-sweep",
            "sso-secret-expiry-sweep",
        )
    ),
}

SCIM_HEADERS = {"Content-Type": "application/scim+json", "User-Agent": "Azure-SCIM-Provisioning"}


@dataclass
class Organization:
    slug: str
    tenant_id: str
    token: str
    owner_email: str
    owner_password: str


def organization(cluster: Any, slug: str) -> Organization:
    """An organization, its owner and a SCIM token, made with the operator's commands."""
    password = secrets.token_urlsafe(18)
    tenant_id, token = cluster.tenant(slug, password=password)
    return Organization(slug, tenant_id, token, f"owner@{slug}.example", password)


def scim(base_url: str, organization: Organization, method: str, path: str, *,
         token: str | None = None, body: Any = None) -> requests.Response:  # fmt: skip
    return requests.request(
        method,
        f"{base_url}/scim/v2/{organization.tenant_id}{path}",
        json=body,
        headers={**SCIM_HEADERS, "Authorization": f"Bearer {token or organization.token}"},
        timeout=30,
    )


class Panel:
    """A signed-in browser's session, which may send each request through any node: sessions
    live in the database, so the cookie works on every node."""

    def __init__(self, base_url: str) -> None:
        self.cookies: dict[str, str] = {}
        self.base_url = base_url

    def _keep_cookies(self, response: requests.Response) -> None:
        self.cookies.update(response.cookies.get_dict())

    def get(self, path: str, *, via: str | None = None) -> requests.Response:
        response = requests.get(
            (via or self.base_url) + path, cookies=self.cookies, allow_redirects=False, timeout=30
        )
        self._keep_cookies(response)
        return response

    def post(self, path: str, data: dict[str, str], *, via: str | None = None) -> requests.Response:
        response = requests.post(
            (via or self.base_url) + path,
            data={"csrfmiddlewaretoken": self.cookies["csrftoken"], **data},
            cookies=self.cookies,
            allow_redirects=False,
            timeout=30,
        )
        self._keep_cookies(response)
        return response

    def sign_in(self, email: str, password: str) -> None:
        assert self.get("/login/").status_code == 200
        response = self.post("/login/", {"username": email, "password": password})
        assert response.status_code == 302, response.text[:500]
        assert "sessionid" in self.cookies

    @staticmethod
    def field(html: str, name: str) -> str:
        match = re.search(rf'name="{name}" value="([^"]*)"', html)
        assert match, f"no {name} field on the page"
        return unescape(match.group(1))


def _served_by(response: requests.Response) -> str:
    return response.headers.get("X-Served-By", "")


# --- Credentials ---------------------------------------------------------------------------------


def remember_token_everywhere(org: Organization, nodes: list[str]) -> None:
    """Enough requests per node that each of its gunicorn workers has verified the token and
    keeps it in its process cache."""
    for node in nodes:
        for _ in range(12):
            assert scim(node, org, "GET", "/Users?count=1").status_code == 200


def regenerate(panel: Panel, *, keep_hours: int, via: str) -> str:
    """Regenerate the token from the confirmation page; the new token as the page shows it."""
    nonce = Panel.field(
        panel.get("/integrations/entra-id/credentials/regenerate/", via=via).text, "nonce"
    )
    issued = panel.post(
        "/integrations/entra-id/credentials/",
        {"nonce": nonce, "previous_token": str(keep_hours), "confirm": "regenerate"},
        via=via,
    )
    assert issued.status_code == 200
    shown = re.search(r'id="secret-token"[^>]*>([^<]+)<', issued.text)
    assert shown, "no secret token on the page"
    return unescape(shown.group(1)).strip()


def test_token_revoked_through_node_a_is_refused_by_node_b_at_once(cluster: Any) -> None:
    # given a token that both nodes have verified and remember (several requests per node, so
    # each of its gunicorn workers holds it in its process cache)
    org = organization(cluster, "revokeco")
    node_a, node_b = cluster.nodes["a"].url, cluster.nodes["b"].url
    remember_token_everywhere(org, [node_a, node_b])
    panel = Panel(node_a)
    panel.sign_in(org.owner_email, org.owner_password)

    # when the owner revokes it through node A's panel
    page = panel.get("/integrations/entra-id/credentials/revoke/")
    assert page.status_code == 200
    revoked = panel.post("/integrations/entra-id/credentials/revoke/", {"confirm": "on"})
    assert revoked.status_code == 302

    # then node B refuses it on its very next request, in every worker, and so does node A
    statuses = [scim(node_b, org, "GET", "/Users?count=1").status_code for _ in range(8)]
    statuses += [scim(node_a, org, "GET", "/Users?count=1").status_code for _ in range(8)]
    assert set(statuses) == {401}, statuses


def test_regeneration_with_overlap_behaves_the_same_on_both_nodes(cluster: Any) -> None:
    # given a token both nodes remember
    org = organization(cluster, "overlapco")
    node_a, node_b = cluster.nodes["a"].url, cluster.nodes["b"].url
    remember_token_everywhere(org, [node_a, node_b])
    panel = Panel(node_b)
    panel.sign_in(org.owner_email, org.owner_password)

    # when the owner regenerates through node B, keeping the old token for a day
    new_token = regenerate(panel, keep_hours=24, via=node_b)
    assert new_token != org.token

    # then both tokens work on both nodes, in every worker
    for node in (node_a, node_b):
        for token in (org.token, new_token):
            statuses = {scim(node, org, "GET", "/Users?count=1", token=token).status_code
                        for _ in range(8)}  # fmt: skip
            assert statuses == {200}, (node, statuses)

    # when it is regenerated once more through node A, the old tokens stopping at once
    newest_token = regenerate(panel, keep_hours=0, via=node_a)

    # then on both nodes only the newest works
    for node in (node_b, node_a):
        for token, expected in ((org.token, 401), (new_token, 401), (newest_token, 200)):
            statuses = {scim(node, org, "GET", "/Users?count=1", token=token).status_code
                        for _ in range(4)}  # fmt: skip
            assert statuses == {expected}, (node, token[:4], statuses)


# --- Shared limits -------------------------------------------------------------------------------


def _hammer(urls: list[str], org: Organization, seconds: float, threads_per_url: int) -> Counter:
    statuses: Counter[tuple[str, int]] = Counter()
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def run(url: str) -> None:
        with requests.Session() as session:
            while time.monotonic() < stop_at:
                response = session.get(
                    f"{url}/scim/v2/{org.tenant_id}/Users?count=1",
                    headers={**SCIM_HEADERS, "Authorization": f"Bearer {org.token}"},
                    timeout=30,
                )
                with lock:
                    statuses[(url, response.status_code)] += 1

    workers = [threading.Thread(target=run, args=(url,)) for url in urls
               for _ in range(threads_per_url)]  # fmt: skip
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return statuses


def test_rate_limit_holds_for_both_nodes_together(cluster: Any) -> None:
    # given both nodes restarted with a low limit (one at a time, as an operator would)
    rate, burst, seconds = 20.0, 20.0, 6.0
    limits = {"SCIM_RATE_LIMIT": str(rate), "SCIM_RATE_BURST": str(burst)}
    try:
        cluster.restart_node_gracefully("a", env=limits)
        cluster.restart_node_gracefully("b", env=limits)
        org = organization(cluster, "rateco")
        node_a, node_b = cluster.nodes["a"].url, cluster.nodes["b"].url

        # when both nodes are sent far more than the limit at once, 4 clients each
        started = time.monotonic()
        statuses = _hammer([node_a, node_b], org, seconds, threads_per_url=4)
        elapsed = time.monotonic() - started
    finally:
        cluster.restart_node_gracefully("a")
        cluster.restart_node_gracefully("b")

    # then the requests admitted by the two nodes together stay within one organization's limit
    admitted = sum(n for (_, status), n in statuses.items() if status == 200)
    refused = sum(n for (_, status), n in statuses.items() if status == 429)
    assert admitted + refused == sum(statuses.values()), statuses
    assert admitted <= rate * elapsed + burst + 2, (admitted, elapsed, statuses)
    # and both nodes admitted some: the limit is shared, not one node starving the other
    assert all(statuses[(node, 200)] > 0 for node in (node_a, node_b)), statuses
    # a limit kept per process (4 gunicorn workers) would have admitted several times as many
    assert refused > admitted, statuses
    report(
        "rate_limit_across_nodes",
        {"rate": rate, "burst": burst, "seconds": round(elapsed, 2), "admitted": admitted,
         "refused": refused, "bound": round(rate * elapsed + burst, 1)},
    )  # fmt: skip


def test_concurrent_deactivations_through_both_nodes_never_exceed_the_guard(cluster: Any) -> None:
    # given 60 active members (the guard's default allowance: max(20% of 60, 10) = 12 per hour)
    org = organization(cluster, "guardco")
    base = cluster.url
    ids = []
    for index in range(59):  # plus the owner: 60 active members
        created = scim(base, org, "POST", "/Users", body={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": f"person{index}@guardco.example", "active": True,
            "name": {"givenName": "Person", "familyName": str(index)},
            "emails": [{"value": f"person{index}@guardco.example", "primary": True}],
        })  # fmt: skip
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])

    # when 40 deactivations arrive at once, half through each node
    barrier = threading.Barrier(40)
    results: list[tuple[str, int]] = []
    lock = threading.Lock()

    def deactivate(index: int) -> None:
        node = cluster.nodes["a" if index % 2 else "b"].url
        barrier.wait()
        response = scim(node, org, "PATCH", f"/Users/{ids[index]}", body={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
        })  # fmt: skip
        with lock:
            results.append((ids[index], response.status_code))

    threads = [threading.Thread(target=deactivate, args=(index,)) for index in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then exactly the allowance was applied, the rest held, and the database agrees
    statuses = Counter(status for _, status in results)
    assert statuses == {200: 12, 429: 28}, statuses
    suspended = cluster.sql(
        "SELECT count(*) FROM accounts_member m JOIN accounts_organization o "
        "ON o.id = m.organization_id WHERE o.slug = %s AND m.status = 'suspended'",
        ("guardco",),
    )[0][0]
    assert suspended == 12
    # and the owner is told once, though the held requests came through both nodes
    wait_until(
        lambda: "owner@guardco.example" in cluster.smtp_recipients(),
        timeout=60, what="the hold notice at the SMTP sink",
    )  # fmt: skip
    wait_until(
        lambda: not cluster.sql(
            "SELECT 1 FROM integrations_deprovisionhold WHERE notification <> 'sent'"
        ),
        timeout=60, what="every hold notice marked sent",
    )  # fmt: skip
    assert cluster.smtp_recipients().count("owner@guardco.example") == 1
    report(
        "deprovision_guard_across_nodes",
        {"requests": 40, "allowance": 12, "applied": statuses[200], "held": statuses[429]},
    )


# --- A second beat -------------------------------------------------------------------------------


def _periodic_runs(cluster: Any) -> dict[str, tuple[int, int]]:
    rows = cluster.sql("SELECT task, runs, refused FROM accounts_periodictaskrun")
    return {task: (runs, refused) for task, runs, refused in rows}


def test_a_second_beat_started_by_mistake_duplicates_no_sweep_invitation_or_reminder(
    cluster: Any,
) -> None:
    # given 6 people whose invitations went out, and the sweeps running on the cluster's one beat
    org = organization(cluster, "beatco")
    people = [f"person{index}@beatco.example" for index in range(6)]
    for person in people:
        created = scim(cluster.url, org, "POST", "/Users", body={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": person,
            "name": {"givenName": "Person", "familyName": "Beat"}, "active": True,
            "emails": [{"value": person, "primary": True}],
        })  # fmt: skip
        assert created.status_code == 201, created.text
    wait_until(
        lambda: all(person in cluster.smtp_recipients() for person in people),
        timeout=120, what="the six invitations at the SMTP sink",
    )  # fmt: skip
    wait_until(lambda: _periodic_runs(cluster), timeout=30, what="the first periodic runs")

    # when a second beat runs next to the first for 6 periods, and 3 reminders fall due while
    # both beats send the invitation sweep (sent 30 hours ago, expiring within the hour)
    cluster.start_beat("beat2")
    before, started = _periodic_runs(cluster), time.monotonic()
    due = people[:3]
    try:
        cluster.sql(
            "UPDATE accounts_invitation SET sent_at = now() - interval '30 hours', "
            "expires_at = now() + interval '1 hour' WHERE email = ANY(%s) AND status = 'sent'",
            (due,),
        )
        time.sleep(6 * PERIODIC_SECONDS)
    finally:
        cluster.stop_beat("beat2")
    elapsed = time.monotonic() - started
    after = _periodic_runs(cluster)

    # then each sweep ran about once per period (never closer than 80% of it), the second beat's
    # copies were refused, and the reminders went out once each
    figures = {}
    for task, (runs, refused) in after.items():
        runs_before, refused_before = before.get(task, (0, 0))
        ran, copies_refused = runs - runs_before, refused - refused_before
        figures[task] = {"runs": ran, "refused": copies_refused}
        assert ran <= elapsed / (0.8 * PERIODIC_SECONDS) + 1, (task, ran, elapsed)
    assert sum(f["refused"] for f in figures.values()) >= len(figures), figures
    wait_until(
        lambda: all(cluster.smtp_recipients().count(person) >= 2 for person in due),
        timeout=120, what="the three reminders",
    )  # fmt: skip
    time.sleep(2 * PERIODIC_SECONDS)  # a duplicate would arrive with the next sweeps
    recipients = Counter(cluster.smtp_recipients())
    assert {person: recipients[person] for person in people} == {
        person: 2 if person in due else 1 for person in people
    }
    report(
        "second_beat",
        {"seconds": round(elapsed, 1), "period": PERIODIC_SECONDS, "tasks": figures},
    )
