"""Celery tasks for invitations. Each takes ids, calls one service and is safe to run twice."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings

from nordpass_admin.periodic import periodic_task

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="accounts.send_invitation", max_retries=None, acks_late=True)
def send_invitation(self: Task, invitation_id: int) -> str:
    from accounts.services import invitations

    result = invitations.invitation_deliver(invitation_id)
    if result.outcome is invitations.Delivery.RETRY:
        # Exponential backoff: 30 s, 60 s, 120 s... The attempt count lives in the database, so
        # a retry delivered twice or a sweep re-enqueue cannot add attempts or send twice.
        countdown = settings.INVITATION_RETRY_BASE_SECONDS * 2 ** max(result.attempts - 1, 0)
        raise self.retry(countdown=countdown)
    if result.outcome is invitations.Delivery.FAILED:
        logger.warning("Invitation %s failed: %s", invitation_id, result.error)
    return result.outcome.value


@shared_task(name="accounts.send_invitation_reminder", acks_late=True)
def send_invitation_reminder(invitation_id: int) -> str:
    from accounts.services import invitations

    return invitations.invitation_send_reminder(invitation_id).outcome.value


@periodic_task("accounts.invitation_sweep")
def invitation_sweep() -> dict[str, int]:
    from accounts.services import invitations

    report = invitations.invitation_sweep()
    return {
        "requeued": report.requeued,
        "recovered": report.recovered,
        "expired": report.expired,
        "reminders": report.reminders,
    }
