"""Delivery events from the email provider (django-anymail tracking webhooks).

Anymail verifies the webhook (ANYMAIL_WEBHOOK_SECRET, HTTP basic auth) and emits its `tracking`
signal; this receiver only hands bounces, rejections and complaints to the invitation service.
"""

from __future__ import annotations

from typing import Any

from anymail.signals import AnymailTrackingEvent, tracking
from django.dispatch import receiver

from accounts.services.invitations import invitation_delivery_event

FAILURE_EVENTS = frozenset({"bounced", "rejected", "complained", "failed"})


@receiver(tracking, dispatch_uid="accounts.invitation_delivery_events")
def invitation_delivery_webhook(
    sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any
) -> None:
    if event.event_type not in FAILURE_EVENTS:
        return
    reason = event.reject_reason or event.description or event.mta_response or ""
    invitation_delivery_event(
        message_id=event.message_id or "", event_type=event.event_type, reason=str(reason)
    )
