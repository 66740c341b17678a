"""`python manage.py scim_credentials --organization SLUG [--regenerate] [--overlap-hours N]`.

For operators: prints the organization's Tenant URL and a new secret token, through the same
service as the panel's Get credentials button (audit log included).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.audit import Actor
from accounts.models import Organization
from integrations import selectors, services


class Command(BaseCommand):
    help = "Print an organization's SCIM Tenant URL and issue a new secret token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", required=True, help="The organization's slug.")
        parser.add_argument(
            "--regenerate",
            action="store_true",
            help="Replace the existing token (it stops working unless --overlap-hours is given).",
        )
        parser.add_argument(
            "--overlap-hours",
            type=int,
            default=0,
            help="With --regenerate: keep the previous token valid this many hours (max 168).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["organization"]).first()
        if organization is None:
            raise CommandError(f"No organization with the slug {options['organization']!r}.")
        existing = selectors.current_token(organization)
        if existing is not None and not options["regenerate"]:
            raise CommandError(
                f"{organization.name} already has a token ({existing.hint}…). Pass --regenerate "
                "to replace it; the secret of an existing token cannot be shown again."
            )
        hours = options["overlap_hours"]
        if hours and not options["regenerate"]:
            raise CommandError("--overlap-hours only applies with --regenerate.")
        try:
            issued = services.scim_token_issue(
                organization=organization,
                actor=Actor.system("scim_credentials command"),
                overlap=timedelta(hours=hours) if hours else None,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Tenant URL:   {issued.tenant_url}")
        self.stdout.write(f"Secret token: {issued.secret}")
        if issued.replaced is not None:
            if issued.replaced.expires_at and hours:
                until = f"until {issued.replaced.expires_at:%Y-%m-%d %H:%M %Z}"
                self.stdout.write(f"The previous token ({issued.replaced.hint}…) works {until}.")
            else:
                self.stdout.write(f"The previous token ({issued.replaced.hint}…) stopped working.")
        self.stderr.write("The token is shown only this once: store it in the identity provider.")
