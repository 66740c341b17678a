"""Create a demo organization for `make run` when the database has no organization yet.

The generated password is kept in var/demo-credentials.txt (readable only by this user) so that
every later `make run` can print it again.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.audit import Actor
from accounts.models import Organization
from accounts.services import organization_create

DEMO_EMAIL = "owner@demo.example"
DEMO_ORGANIZATION = "Demo Company"


class Command(BaseCommand):
    help = "Create a demo organization and owner if none exists, and print how to sign in."

    def handle(self, *args: Any, **options: Any) -> None:
        credentials = Path(settings.VAR_DIR) / "demo-credentials.txt"
        if not Organization.objects.exists():
            password = secrets.token_urlsafe(12)
            organization_create(
                name=DEMO_ORGANIZATION,
                owner_email=DEMO_EMAIL,
                owner_password=password,
                owner_given_name="Dana",
                owner_family_name="Demo",
                actor=Actor.system("make run"),
            )
            credentials.write_text(f"{DEMO_EMAIL}\n{password}\n")
            credentials.chmod(0o600)
        url = f"{settings.SITE_URL}/login/"
        if credentials.exists():
            email, password = credentials.read_text().split()[:2]
            self.stdout.write(
                self.style.SUCCESS(
                    f"\n  Panel:    {url}\n  Email:    {email}\n  Password: {password}\n"
                )
            )
        else:
            self.stdout.write(
                f"\n  Panel: {url}\n  Sign in with an owner you created with create_organization.\n"
            )
