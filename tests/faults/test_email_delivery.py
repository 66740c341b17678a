"""The email side failing under a real Celery worker and a real SMTP server on loopback: the
provider refusing for a while, and the worker dying in the middle of a send.

The worker consumes a queue of this test's own on the configured broker (the filesystem transport
by default, Redis in CI's second run), so no other worker on the machine takes these tasks.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from accounts.models import Invitation, Member
from accounts.services.invitations import invitation_sweep
from nordpass_admin.celery import app as celery_app
from tests.faults.servers import Tenant, entra_user, wait_until
from tests.support import celery_worker, free_port

SMTP_ENV = {
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "127.0.0.1",
    "EMAIL_TIMEOUT": "20",
}


@pytest.fixture
def queue() -> Iterator[str]:
    """Tasks this test enqueues go to a queue only its own worker reads."""
    name = f"faults-{uuid.uuid4().hex[:10]}"
    default = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = name
    try:
        yield name
    finally:
        celery_app.conf.task_default_queue = default


@dataclass
class ScriptedSmtp:
    """An SMTP server that answers from a script: each (phase, reply) is used once, in order, by
    the next transaction reaching that phase; everything else is accepted."""

    script: list[tuple[str, str]] = field(default_factory=list)
    hold_first: bool = False
    attempts: list[float] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def _scripted(self, phase: str) -> str | None:
        if self.script and self.script[0][0] == phase:
            return self.script.pop(0)[1]
        return None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.attempts.append(time.monotonic())
        refusal = self._scripted("RCPT")
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        refusal = self._scripted("DATA")
        if refusal:
            return refusal
        # Received: from here on the provider has the message, whatever happens to the sender.
        self.messages.append(message_from_bytes(envelope.content))
        if self.hold_first and len(self.messages) == 1:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return "250 Message accepted for delivery"

    def recipients(self) -> Counter[str]:
        return Counter(str(m["To"]) for m in self.messages)


@contextmanager
def scripted_smtp(handler: ScriptedSmtp) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        handler.release.set()
        controller.stop()


def provision(tenant: Tenant, user_name: str) -> Member:
    """Entra ID creates the person through the SCIM endpoint (in this process: the request is
    not what is under test); the invitation is enqueued on commit."""
    response = Client().post(
        f"/scim/v2/{tenant.tenant_id}/Users",
        data=json.dumps(entra_user(user_name)),
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {tenant.token}",
    )
    assert response.status_code == 201, response.content
    return Member.objects.get(organization=tenant.organization, user_name=user_name)


def invitation_of(member: Member) -> Invitation:
    return Invitation.objects.filter(member=member).latest("pk")


def test_a_failing_provider_is_retried_with_backoff_then_failed_visibly_and_resendable(
    tenant, queue, tmp_path
):
    # given: an SMTP server that defers twice (451 at DATA), then refuses the mailbox (550)
    smtp = ScriptedSmtp(
        script=[
            ("DATA", "451 4.3.0 Mail server temporarily rejected message"),
            ("DATA", "451 4.3.0 Mail server temporarily rejected message"),
            ("RCPT", "550 5.1.1 Mailbox unavailable"),
        ]
    )
    with (
        scripted_smtp(smtp) as port,
        celery_worker(
            queue,
            tmp_path / "worker.log",
            **SMTP_ENV,
            EMAIL_PORT=str(port),
            INVITATION_RETRY_BASE_SECONDS="1",
            INVITATION_MAX_ATTEMPTS="5",
        ),
    ):
        # when
        member = provision(tenant, "erin@contoso.com")

        # then: three attempts, 1 s and then 2 s apart at least, and the invitation fails visibly
        def failed() -> bool:
            return invitation_of(member).status == Invitation.Status.FAILED

        wait_until(failed, timeout=60, what="the invitation to fail")
        first = invitation_of(member)
        assert first.attempts == 3 and "550" in first.last_error
        assert len(smtp.attempts) == 3 and not smtp.messages
        gaps = [b - a for a, b in zip(smtp.attempts, smtp.attempts[1:], strict=False)]
        assert gaps[0] >= 0.9 and gaps[1] >= 1.9, gaps
        owner = Member.objects.get(organization=tenant.organization, role=Member.Role.OWNER)
        panel = Client()
        panel.force_login(owner.user)
        page = panel.get("/users/?q=erin")
        assert "erin@contoso.com" in page.content.decode()

        # when: the provider works again and an admin resends from the Users page
        response = panel.post(f"/users/{member.pk}/invite/")
        assert response.status_code == 302

        # then: a new link is delivered once; the failed one no longer works
        wait_until(lambda: smtp.messages, timeout=60, what="the resent invitation")
        time.sleep(1.5)  # a duplicate would arrive right behind
    assert smtp.recipients() == {"erin@contoso.com": 1}
    first.refresh_from_db()
    assert first.status == Invitation.Status.REVOKED
    assert invitation_of(member).status == Invitation.Status.SENT


def test_a_worker_killed_mid_send_loses_no_invitation_and_duplicates_at_most_one(
    tenant, queue, tmp_path, settings
):
    # given: an SMTP server that receives the first message and then holds the DATA reply
    smtp = ScriptedSmtp(hold_first=True)
    env = {**SMTP_ENV, "INVITATION_SENDING_TIMEOUT": "1", "INVITATION_RETRY_AFTER": "1"}
    with scripted_smtp(smtp) as port:
        env["EMAIL_PORT"] = str(port)
        with celery_worker(queue, tmp_path / "worker-1.log", **env) as worker:
            held = provision(tenant, "fay@contoso.com")
            others = [provision(tenant, f"gus{i}@contoso.com") for i in range(2)]
            wait_until(smtp.holding.is_set, timeout=60, what="the worker to reach DATA")

            # when: the worker is killed while the server holds its message
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        smtp.release.set()
        assert invitation_of(held).status == Invitation.Status.SENDING

        # then: a sweep within INVITATION_SENDING_TIMEOUT leaves it alone (it may still be sending)
        settings.INVITATION_SENDING_TIMEOUT = 3600
        settings.INVITATION_RETRY_AFTER = 1
        assert invitation_sweep().recovered == 0
        assert invitation_of(held).status == Invitation.Status.SENDING

        # when: the timeout has passed, the sweep runs and a worker is back
        settings.INVITATION_SENDING_TIMEOUT = 1
        time.sleep(1.2)
        report = invitation_sweep()
        assert (report.recovered, report.requeued) == (1, 1)
        with celery_worker(queue, tmp_path / "worker-2.log", **env):
            wait_until(
                lambda: len(smtp.messages) >= 4, timeout=60, what="every invitation to arrive"
            )
            time.sleep(2)  # a further duplicate would arrive right behind

    # then: everyone got the invitation; the one in flight at the crash arrived twice, at most
    assert smtp.recipients() == {"fay@contoso.com": 2, "gus0@contoso.com": 1, "gus1@contoso.com": 1}
    for member in [held, *others]:
        assert invitation_of(member).status == Invitation.Status.SENT
    assert invitation_of(held).attempts == 2
