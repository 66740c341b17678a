"""Periodic upkeep of SCIM credentials, hold notices, email-domain checks and single sign-on
secret expiry warnings. Tasks stay thin: they call one service. Each `periodic_task` runs at most
once per period, however many beats send it (nordpass_admin/periodic.py)."""

from __future__ import annotations

from celery import Task, shared_task

from integrations.services import scim_request_log_prune, scim_tokens_expire_overlaps
from nordpass_admin.periodic import periodic_task
from nordpass_admin.publish import publish


@periodic_task("integrations.expire_scim_token_overlaps")
def expire_scim_token_overlaps() -> int:
    return scim_tokens_expire_overlaps()


@periodic_task("integrations.prune_scim_request_log")
def prune_scim_request_log() -> int:
    return scim_request_log_prune()


@shared_task(bind=True, name="integrations.notify_deprovision_hold", max_retries=8, acks_late=True)
def notify_deprovision_hold(self: Task, hold_id: int) -> str:
    """Email owners and admins that the mass-deprovisioning guard holds changes (once per hold)."""
    from integrations.deprovision_guard import deprovision_hold_notify

    outcome = deprovision_hold_notify(hold_id)
    if outcome == "retry":
        # 60 s, 120 s, 240 s...: the notification went back to PENDING, so a retry may claim it.
        raise self.retry(countdown=60 * 2**self.request.retries)
    return outcome


@periodic_task("integrations.deprovision_hold_sweep")
def deprovision_hold_sweep() -> dict[str, int]:
    """Queue again hold notices a lost message or a crashed worker left unsent."""
    from integrations.deprovision_guard import deprovision_hold_notify_sweep

    report = deprovision_hold_notify_sweep()
    return {"recovered": report.recovered, "requeued": report.requeued, "failed": report.failed}


@periodic_task("integrations.email_domain_recheck_sweep")
def email_domain_recheck_sweep() -> int:
    """Every 10 minutes: queue a check of each pending email domain (for 7 days after its claim),
    so a TXT record published after the owner left the page verifies by itself."""
    from integrations.domains import email_domains_due

    due = email_domains_due()
    for domain_id in due:
        publish(check_email_domain, domain_id, retried_by="the next re-check sweep")
    return len(due)


@shared_task(name="integrations.check_email_domain", acks_late=True)
def check_email_domain(domain_id: int) -> str:
    from integrations.domains import email_domain_recheck

    return email_domain_recheck(domain_id)


@periodic_task("integrations.sso_secret_expiry_sweep")
def sso_secret_expiry_sweep() -> int:
    """Every hour: queue the 30-day warning of each single sign-on client secret that expires
    soon and was not warned about for its expiry date yet."""
    from integrations.sso import sso_secret_expiry_due

    due = sso_secret_expiry_due()
    for connection_id in due:
        publish(warn_sso_secret_expiry, connection_id, retried_by="the next expiry sweep")
    return len(due)


@shared_task(name="integrations.warn_sso_secret_expiry", acks_late=True)
def warn_sso_secret_expiry(connection_id: int) -> str:
    from integrations.sso import sso_secret_expiry_warn

    return sso_secret_expiry_warn(connection_id)
