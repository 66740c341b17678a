"""The cluster as `make cluster` starts it: both nodes behind the balancer, and a SCIM create made
through it ends as an email at the SMTP sink (a worker took the task from the shared broker)."""

from __future__ import annotations

from collections import Counter

from tests.cluster.conftest import scim_headers
from tests.faults.servers import entra_user, http_request, wait_until


def test_the_balancer_spreads_requests_over_both_nodes_and_a_create_sends_its_invitation(
    cluster,
):
    # given
    tenant_id, token = cluster.tenant("smoke")
    assert cluster.server_states() == {"a": "UP", "b": "UP"}

    # when
    served_by = Counter(
        http_request(cluster.port, "GET", "/healthz").headers["x-served-by"] for _ in range(10)
    )
    created = http_request(
        cluster.port, "POST", f"/scim/v2/{tenant_id}/Users",
        entra_user("smoke.person@smoke.example"), headers=scim_headers(token),
    )  # fmt: skip

    # then
    assert served_by == {"a": 5, "b": 5}
    assert created.status == 201, created.body
    assert created.headers["x-served-by"] in ("a", "b")
    assert created.body["userName"] == "smoke.person@smoke.example"
    wait_until(
        lambda: "smoke.person@smoke.example" in cluster.smtp_recipients(),
        timeout=60, what="the invitation at the SMTP sink",
    )  # fmt: skip
    (message,) = [m for m in cluster.smtp_messages() if m["To"] == "smoke.person@smoke.example"]
    assert f"{cluster.url}/invite/" in message.as_string()
