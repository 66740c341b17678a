"""`manage.py create_organization --name NAME --owner-email EMAIL [--owner-password PASSWORD]`."""

from __future__ import annotations

import getpass
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.audit import Actor
from accounts.exceptions import AccountsError
from accounts.models import User
from accounts.services import organization_create


class Command(BaseCommand):
    help = "Create an organization and its first owner, who can then sign in to the panel."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="The organization's name.")
        parser.add_argument("--owner-email", required=True, help="The owner's sign-in email.")
        parser.add_argument(
            "--owner-password",
            help="The owner's password. Prompted for when left out (the owner's account is new).",
        )
        parser.add_argument("--slug", help="Short URL-safe name; derived from --name by default.")
        parser.add_argument("--owner-name", default="", help="The owner's full name.")
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Never prompt; fail instead when a password is needed.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        email: str = options["owner_email"]
        password: str | None = options["owner_password"]
        is_new_owner = not User.objects.filter(email__iexact=email.strip()).exists()
        if password is None and is_new_owner:
            password = self._prompt_password(interactive=options.get("interactive", True))
        try:
            organization = organization_create(
                name=options["name"],
                slug=options["slug"],
                owner_email=email,
                owner_password=password,
                owner_full_name=options["owner_name"],
                actor=Actor.system("create_organization command"),
            )
        except AccountsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Created organization {organization.name!r} ({organization.slug}).")
        )
        self.stdout.write(f"Owner:   {email.strip()}")
        self.stdout.write(f"Sign in: {settings.SITE_URL}/login/")

    def _prompt_password(self, *, interactive: bool) -> str:
        if not interactive:
            raise CommandError("--owner-password is required when the command cannot prompt.")
        try:
            password = getpass.getpass("Owner password: ")
            again = getpass.getpass("Owner password (again): ")
        except (EOFError, KeyboardInterrupt) as exc:
            raise CommandError("No password given.") from exc
        if password != again:
            raise CommandError("The two passwords do not match.")
        if not password:
            raise CommandError("The password cannot be empty.")
        return password
