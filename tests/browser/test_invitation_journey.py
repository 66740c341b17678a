"""End to end on the real stack: a SCIM POST over HTTP, a real Celery worker on the configured
broker (Redis in CI), a real SMTP server, and the link followed in Chromium."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid

import pytest

from accounts.audit import Actor
from accounts.models import Member
from integrations import services
from nordpass_admin.celery import app as celery_app
from tests.browser.conftest import screenshot
from tests.factories import OwnerFactory
from tests.support import celery_worker, smtp_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-and-unusual-passphrase"


def scim_post(url: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        return json.loads(response.read())


def test_provisioned_employee_gets_the_email_registers_and_is_active(
    page, live_server, settings, tmp_path
):
    # given: an organization connected to its identity provider, a worker and an SMTP server
    settings.SITE_URL = live_server.url
    owner = OwnerFactory(organization__name="Contoso", full_name="Olga Owner")
    organization = owner.organization
    token = services.scim_token_issue(organization=organization, actor=Actor.system()).secret
    queue = f"e2e-{uuid.uuid4().hex[:10]}"
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue  # only this test's worker takes these tasks
    try:
        run_journey(page, live_server, organization, token, queue, tmp_path)
    finally:
        celery_app.conf.task_default_queue = default_queue


def run_journey(page, live_server, organization, token, queue, tmp_path) -> None:
    with (
        smtp_server() as inbox,
        celery_worker(
            queue,
            tmp_path / "worker.log",
            SITE_URL=live_server.url,
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(inbox.port),
        ),
    ):
        # when: Entra ID provisions a user over HTTP
        created = scim_post(
            f"{live_server.url}/scim/v2/{organization.tenant_id}/Users",
            token,
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "alex@contoso.onmicrosoft.com",
                "name": {"givenName": "Alex", "familyName": "Wilber"},
                "emails": [{"value": "alex@contoso.com", "type": "work", "primary": True}],
                "active": True,
            },
        )
        # then: the invitation arrives over SMTP, once, at the work address
        message = inbox.wait_for(1)[0]
    assert message["To"] == "alex@contoso.com"
    assert message["Subject"] == "Contoso invited you to NordPass"
    parts = {part.get_content_type(): part for part in message.walk()}
    text = parts["text/plain"].get_payload(decode=True).decode()
    html = parts["text/html"].get_payload(decode=True).decode()
    link = re.search(rf"{re.escape(live_server.url)}/invite/[0-9a-f]{{64}}/", text).group(0)
    assert link in html and "Olga Owner" in text

    # the email as a mail client renders it
    email_file = tmp_path / "invitation.html"
    email_file.write_text(html)
    page.goto(email_file.as_uri())
    screenshot(page, "invitation-email")

    # when: the employee follows the link and chooses a password
    page.goto(link)
    page.get_by_role("heading", name="Join Contoso").wait_for()
    assert page.get_by_test_id("invitation-email").inner_text() == "alex@contoso.com"
    screenshot(page, "registration")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()

    # then: signed in, on their own account page, Active
    page.get_by_role("heading", name="Your account").wait_for()
    assert "Welcome to Contoso" in page.content()
    assert "Active" in page.get_by_role("table").inner_text()
    screenshot(page, "registered-account")
    member = Member.objects.get(scim_id=created["id"])
    assert member.status == "active" and member.user.email == "alex@contoso.com"
    assert member.invitations.get().status == "accepted"

    # and the link cannot be used twice
    page.goto(link)
    page.get_by_role("heading", name="This invitation was already used").wait_for()
