"""The whole product as its three kinds of users meet it, in real Chromium on the real stack:
the management command, the owner in the panel, Entra-style SCIM over HTTP, a real Celery worker
and SMTP server, and an employee registering from the email."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
import uuid

import pytest
from django.conf import settings

from accounts.models import Member, Organization
from integrations.models import ScimRequest
from nordpass_admin.celery import app as celery_app
from tests.browser.conftest import screenshot
from tests.support import celery_worker, smtp_server, worker_database_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OWNER_EMAIL = "it@fabrikam.example"
OWNER_PASSWORD = "fabrikam-owner-passphrase"
EMPLOYEE_PASSWORD = "employee-chosen-passphrase"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Entra:
    """Requests shaped like Entra ID's provisioning service (scim-notes sections 3 to 6)."""

    def __init__(self, tenant_url: str, token: str) -> None:
        self.tenant_url = tenant_url.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        request = urllib.request.Request(
            self.tenant_url + path.replace(" ", "%20").replace('"', "%22"),
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/scim+json",
                "User-Agent": "Microsoft Azure AD Provisioning",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def provision_user(self, user_name: str, email: str, given: str, family: str) -> str:
        status, found = self.call("GET", f'/Users?filter=userName eq "{user_name}"')
        assert status == 200 and found["totalResults"] == 0
        status, created = self.call(
            "POST",
            "/Users",
            {
                "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                "externalId": given.lower(),
                "userName": user_name,
                "active": True,
                "emails": [{"primary": True, "type": "work", "value": email}],
                "meta": {"resourceType": "User"},
                "name": {
                    "formatted": f"{given} {family}",
                    "familyName": family,
                    "givenName": given,
                },
                "roles": [],
            },
        )
        assert status == 201, created
        return created["id"]


def test_the_whole_product_journey(page, live_server, tmp_path):
    settings.SITE_URL = live_server.url

    # 1. An operator creates the organization with the management command (a real process).
    env = {
        "DATABASE_URL": worker_database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "true",
        "SITE_URL": live_server.url,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "create_organization", "--name", "Fabrikam",
         "--owner-email", OWNER_EMAIL, "--owner-name", "Fatima Owner",
         "--owner-password", OWNER_PASSWORD, "--no-input"],
        cwd=settings.BASE_DIR, env={**__import__("os").environ, **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Created organization 'Fabrikam'" in result.stdout
    organization = Organization.objects.get(slug="fabrikam")

    # 2. The owner signs in and gets credentials for Microsoft Entra ID.
    page.goto("/login/")
    page.get_by_label("Email").fill(OWNER_EMAIL)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Fabrikam").wait_for()
    screenshot(page, "journey-01-dashboard-empty")
    page.get_by_role("navigation").get_by_role("link", name="Integrations").click()
    page.get_by_role("link", name="Microsoft Entra ID", exact=True).click()
    page.get_by_role("button", name="Get credentials").click()
    tenant_url = page.get_by_test_id("tenant-url").inner_text()
    token = page.get_by_test_id("secret-token").inner_text()
    screenshot(page, "journey-02-credentials")
    entra = Entra(tenant_url, token)

    queue = f"journey-{uuid.uuid4().hex[:10]}"
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        with smtp_server() as inbox, celery_worker(
            queue, tmp_path / "worker.log", SITE_URL=live_server.url,
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(inbox.port),
        ):  # fmt: skip
            # 3. Entra ID's Test Connection, then its initial cycle: two users and a group.
            status, empty = entra.call("GET", f'/Users?filter=userName eq "{uuid.uuid4()}"')
            assert status == 200 and empty["totalResults"] == 0
            megan = entra.provision_user(
                "megan@fabrikam.onmicrosoft.com", "megan@fabrikam.example", "Megan", "Bowen"
            )
            lee = entra.provision_user(
                "lee@fabrikam.onmicrosoft.com", "lee@fabrikam.example", "Lee", "Gu"
            )
            status, found = entra.call(
                "GET", '/Groups?excludedAttributes=members&filter=displayName eq "Sales"'
            )
            assert status == 200 and found["totalResults"] == 0
            adscim = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
            status, group = entra.call(
                "POST",
                "/Groups",
                {
                    "schemas": [GROUP, adscim],
                    "externalId": "8aa1a0c0",
                    "displayName": "Sales",
                    "meta": {"resourceType": "Group"},
                },
            )
            assert status == 201
            members = [{"$ref": None, "value": megan}, {"$ref": None, "value": lee}]
            status, _ = entra.call(
                "PATCH",
                f"/Groups/{group['id']}",
                {
                    "schemas": [PATCH],
                    "Operations": [{"op": "Add", "path": "members", "value": members}],
                },
            )
            assert status == 204
            messages = inbox.wait_for(2)
    finally:
        celery_app.conf.task_default_queue = default_queue

    # 4. The owner sees them in Users and Groups, and the requests in the provisioning log.
    page.get_by_role("navigation").get_by_role("link", name="Users").click()
    table = page.get_by_test_id("user-table")
    table.wait_for()
    assert "Megan Bowen" in table.inner_text() and "Lee Gu" in table.inner_text()
    assert "Microsoft Entra ID" in table.inner_text()
    screenshot(page, "journey-03-users")
    page.get_by_role("link", name="Megan Bowen").click()
    page.get_by_role("heading", name="Megan Bowen").wait_for()
    assert "Sales" in page.content()
    screenshot(page, "journey-04-member")
    page.get_by_role("navigation").get_by_role("link", name="Groups").click()
    page.get_by_role("link", name="Sales").click()
    assert "megan@fabrikam.onmicrosoft.com" in page.get_by_test_id("group-members").inner_text()
    screenshot(page, "journey-05-group")
    page.get_by_role("navigation").get_by_role("link", name="Activity").click()
    page.get_by_role("link", name="Provisioning log").click()
    page.get_by_role("heading", name="Provisioning log").first.wait_for()
    assert "Created member megan@fabrikam.onmicrosoft.com" in page.content()
    screenshot(page, "journey-06-provisioning-log")
    page.get_by_role("row", name=re.compile("Created member megan")).get_by_role("link").click()
    page.get_by_text("X-Request-Id").first.wait_for()
    screenshot(page, "journey-07-log-entry")
    assert (
        ScimRequest.objects.filter(organization=organization, client_kind="entra-id").count() >= 7
    )

    # 5. Megan follows her invitation from the SMTP server, registers and is signed in.
    to_megan = next(m for m in messages if m["To"] == "megan@fabrikam.example")
    body = (
        next(p for p in to_megan.walk() if p.get_content_type() == "text/plain")
        .get_payload(decode=True)
        .decode()
    )
    link = re.search(r"http://\S+/invite/[0-9a-f]{64}/", body).group(0)
    page.get_by_role("button", name="Sign out").click()
    page.goto(link)
    page.get_by_label("Password", exact=True).fill(EMPLOYEE_PASSWORD)
    page.get_by_label("Repeat the password").fill(EMPLOYEE_PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    page.get_by_role("heading", name="Your account").wait_for()
    screenshot(page, "journey-08-employee-account")
    page.get_by_role("button", name="Sign out").click()
    page.goto("/login/")
    page.get_by_label("Email").fill("megan@fabrikam.example")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(EMPLOYEE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Your account").wait_for()
    page.get_by_role("button", name="Sign out").click()

    # 6. Entra ID disables Lee (no aadOptscim062020 flag: a string boolean); the panel shows it.
    status, disabled = entra.call(
        "PATCH", f"/Users/{lee}",
        {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]},
    )  # fmt: skip
    assert status == 200 and disabled["active"] is False
    page.goto("/login/")
    page.get_by_label("Email").fill(OWNER_EMAIL)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Fabrikam").wait_for()
    assert page.get_by_test_id("count-suspended").inner_text() == "1"
    assert page.get_by_test_id("count-active").inner_text() == "2"
    screenshot(page, "journey-09-dashboard")
    page.goto("/users/?status=suspended")
    assert "Lee Gu" in page.get_by_test_id("user-table").inner_text()
    screenshot(page, "journey-10-suspended")
    assert Member.objects.get(scim_id=lee).status == "suspended"
    assert Member.objects.get(scim_id=megan).status == "active"
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/activity/provisioning/")
    screenshot(page, "journey-11-log-phone")
