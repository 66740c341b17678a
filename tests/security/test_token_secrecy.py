"""The SCIM secret token never leaves the moment it is shown: a whole provisioning flow, with every
logger at DEBUG and every SQL statement logged, leaves it in no log line, no database row, no
response and no email.

tests/integrations/test_credentials_services.py covers issuing through the panel (the one
response that shows the token, sessions, `dumpdata`); this follows the token through SCIM traffic,
a wrong token, a regeneration and a revocation, and reads every table raw, not only models.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.audit import Actor
from integrations import services, tokens
from nordpass_admin.celery import app as celery_app
from nordpass_admin.logging import JsonFormatter, RequestIdFilter
from tests.factories import OwnerFactory
from tests.faults.servers import entra_user, group_patch
from tests.integrations.scim.conftest import ScimClient, ScimResponse

pytestmark = pytest.mark.django_db


class Capture(logging.Handler):
    """Every record, as the JSON formatter writes it (extra fields such as `sql` and `params`
    included) and as its raw attributes (arguments not yet formatted)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())
        self.addFilter(RequestIdFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.lines.append(repr(vars(record)))


@pytest.fixture
def every_log_line() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    loggers = [root] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    levels = {logger: logger.level for logger in loggers}
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for logger, level in levels.items():
            logger.setLevel(level)


def every_row_as_text() -> str:
    """Each table of the database, read with SELECT *: models, sessions, the provisioning log,
    the audit log and anything a migration added without a model."""
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            dump.append(f"{table}: {cursor.fetchall()!r}")
    return "\n".join(dump)


def every_email_as_text() -> str:
    parts = []
    for message in mail.outbox:
        parts += [message.subject, message.body, str(message.extra_headers)]
        parts += [str(content) for content, _ in getattr(message, "alternatives", [])]
        parts.append(message.message().as_string())
    return "\n".join(parts)


def test_the_secret_token_is_in_no_log_row_response_or_email(
    every_log_line, django_capture_on_commit_callbacks, monkeypatch
):
    # given: tasks run inline (the invitation email lands in the locmem outbox), and what runs
    # after a commit runs after each step (credential-cache invalidation, the email task)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)

    def committed(action: Any, *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return action(*args, **kwargs)

    # and: a token issued through the services, as the panel and the command do
    owner = OwnerFactory(organization__name="Contoso")
    organization = owner.organization
    actor = Actor.for_user(owner.user)
    first = committed(services.scim_token_issue, organization=organization, actor=actor)
    scim = ScimClient(organization, first.secret, user_agent="Azure-SCIM-Provisioning")
    responses: list[ScimResponse] = []

    def send(method: str, path: str, body: Any = None, **kwargs: Any) -> ScimResponse:
        response = committed(scim.request, method, path, body, **kwargs)
        responses.append(response)
        return response

    wrong = tokens.generate_token()  # well formed, checksum right, unknown
    tampered = first.secret[:-8] + ("A" if first.secret[-8] != "A" else "B") + first.secret[-7:]

    # when: a whole provisioning flow, with every SQL statement logged
    with CaptureQueriesContext(connection):
        created = send("POST", "/Users", entra_user("ada@contoso.com"))  # and its invitation
        user_id = created.body["id"]
        assert send("GET", '/Users?filter=userName eq "ada@contoso.com"').status == 200
        assert send("GET", f"/Users/{user_id}").status == 200
        patch = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "displayName", "value": "Ada L."}],
        }
        assert send("PATCH", f"/Users/{user_id}", patch).status == 200
        group = send(
            "POST",
            "/Groups",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Engineering",
                "members": [{"value": user_id}],
            },
        )
        group_id = group.body["id"]
        assert send("PATCH", f"/Groups/{group_id}", group_patch("remove", [user_id])).status in (
            200,
            204,
        )
        assert send("GET", "/Groups").status == 200
        # a wrong token, and the right one with one character changed
        assert send("GET", "/Users", token=wrong).status == 401
        assert send("GET", "/Users", token=tampered).status == 401
        # regenerated with an overlap: both work until the old one is retired
        second = committed(
            services.scim_token_issue,
            organization=organization,
            actor=actor,
            overlap=timedelta(hours=1),
        )
        assert send("GET", "/Users").status == 200
        assert send("GET", "/Users", token=second.secret).status == 200
        assert send("DELETE", f"/Users/{user_id}", token=second.secret).status == 204
        # revoked: neither works
        committed(services.scim_token_revoke, organization=organization, actor=actor)
        assert send("GET", "/Users").status == 401
        assert send("GET", "/Users", token=second.secret).status == 401

    # then
    logs = "\n".join(every_log_line.lines)
    rows = every_row_as_text()
    answers = "\n".join(
        response.raw.decode(errors="replace") + repr(dict(response.headers.items()))
        for response in responses
    )
    emails = every_email_as_text()
    # the evidence is really there: SQL was logged, rows and emails exist
    assert "INSERT INTO" in logs and "SELECT" in logs
    assert first.token.digest in rows and first.token.hint in rows
    assert len(mail.outbox) == 1 and "ada@contoso.com" in mail.outbox[0].to
    secrets_ = {
        "first token": first.secret,
        "its random part": first.secret[len(first.token.hint) :],
        "second token": second.secret,
        "its random part ": second.secret[len(second.token.hint) :],
        "the wrong token": wrong,
        "the tampered token": tampered,
    }
    for where, text in (("logs", logs), ("rows", rows), ("responses", answers), ("emails", emails)):
        for what, secret in secrets_.items():
            assert secret not in text, f"{what} found in {where}"


@pytest.mark.sso
def test_the_sso_client_secret_is_in_no_log_row_response_or_email(every_log_line, settings):
    # given: a real OpenID Provider on loopback, and an owner on the Okta page
    from django.utils import timezone

    from integrations.models import SsoConnection
    from integrations.sso import sso_client_config, sso_secret_expiry_warn
    from tests.conftest import signed_in_client
    from tests.sso.conftest import OKTA
    from tests.sso.provider import TestProvider

    settings.SSO_ALLOW_INSECURE_LOOPBACK_ISSUER = True
    secret = "okta-client-secret-that-must-stay-sealed-0123456789"
    owner = OwnerFactory(organization__name="Contoso")
    client = signed_in_client(owner)
    provider = TestProvider([OKTA]).start()
    try:
        form = {
            "issuer": provider.issuer(OKTA),
            "client_id": "0oa1contoso",
            "client_secret": secret,
            "secret_expires_on": str(timezone.localdate() + timedelta(days=7)),
        }
        # when: saved, saved again with a typo (refused), the page read, the policy set, and the
        # expiry email sent, with every SQL statement logged
        with CaptureQueriesContext(connection):
            responses = [
                client.post("/integrations/okta/sso/", form, follow=True),
                client.post(
                    "/integrations/okta/sso/",
                    {**form, "issuer": provider.issuer("/typo")},
                ),
                client.get("/integrations/okta/"),
                client.post("/integrations/okta/sso/policy/", {"policy": "optional"}, follow=True),
                client.get("/"),
            ]
            row = SsoConnection.objects.get()
            assert sso_secret_expiry_warn(row.pk) == "sent"
    finally:
        provider.stop()

    # then: the secret works for signing in, and is nowhere else
    assert sso_client_config(row).client_secret == secret
    logs = "\n".join(every_log_line.lines)
    assert "INSERT INTO" in logs
    assert [response.status_code for response in responses] == [200, 400, 200, 200, 200]
    answers = "\n".join(response.content.decode() for response in responses)
    assert "0oa1contoso" in answers
    assert secret not in logs
    assert secret not in every_row_as_text()
    assert secret not in answers
    assert len(mail.outbox) == 1
    assert secret not in every_email_as_text()
