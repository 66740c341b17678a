"""Periodic upkeep of SCIM credentials. Tasks stay thin: they call one service."""

from __future__ import annotations

from celery import shared_task

from integrations.services import scim_request_log_prune, scim_tokens_expire_overlaps


@shared_task(name="integrations.expire_scim_token_overlaps")
def expire_scim_token_overlaps() -> int:
    return scim_tokens_expire_overlaps()


@shared_task(name="integrations.prune_scim_request_log")
def prune_scim_request_log() -> int:
    return scim_request_log_prune()
