"""`manage.py create_organization --name NAME --owner-email EMAIL --owner-name "GIVEN FAMILY"`."""

from __future__ import annotations

import getpass
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.audit import Actor
from accounts.exceptions import AccountsError
from accounts.models import User
from accounts.names import PersonName, name_from_full_name, person_name, split_full_name
from accounts.services import organization_create

NAME_REQUIRED = (
    "The owner's name is required when the command cannot prompt: pass "
    '--owner-name "Ada Lovelace", or --owner-given-name and --owner-family-name.'
)


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
        parser.add_argument(
            "--owner-name",
            help='The owner\'s given and family name, "Ada Lovelace": the first word is the '
            "given name, the rest the family name. Prompted for when left out.",
        )
        parser.add_argument(
            "--owner-given-name", help="The owner's given name (with --owner-family-name)."
        )
        parser.add_argument(
            "--owner-family-name", help="The owner's family name (with --owner-given-name)."
        )
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Never prompt; fail instead when the owner's name or password is needed.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        email: str = options["owner_email"]
        password: str | None = options["owner_password"]
        interactive: bool = options.get("interactive", True)
        existing = User.objects.filter(email__iexact=email.strip()).first()
        account_name = name_from_full_name(existing.full_name) if existing else None
        try:
            name = self._owner_name(options, interactive=interactive, account_name=account_name)
        except AccountsError as exc:
            raise CommandError(str(exc)) from exc
        if password is None and existing is None:
            password = self._prompt_password(interactive=interactive)
        try:
            organization = organization_create(
                name=options["name"],
                slug=options["slug"],
                owner_email=email,
                owner_password=password,
                owner_given_name=name.given,
                owner_family_name=name.family,
                actor=Actor.system("create_organization command"),
            )
        except AccountsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Created organization {organization.name!r} ({organization.slug}).")
        )
        self.stdout.write(f"Owner:   {name.formatted} <{email.strip()}>")
        self.stdout.write(f"Sign in: {settings.SITE_URL}/login/")

    def _owner_name(
        self, options: dict[str, Any], *, interactive: bool, account_name: PersonName | None
    ) -> PersonName:
        """The name from the flags, an existing account's name, or the prompt, in that order."""
        full: str | None = options.get("owner_name")
        given: str | None = options.get("owner_given_name")
        family: str | None = options.get("owner_family_name")
        if full is not None and (given is not None or family is not None):
            raise CommandError(
                "Pass either --owner-name or --owner-given-name and --owner-family-name, not both."
            )
        if full is not None:
            try:
                return split_full_name(full)
            except AccountsError as exc:
                raise CommandError(f"--owner-name: {exc}") from exc
        if (given is None) != (family is None):
            missing = "--owner-family-name" if family is None else "--owner-given-name"
            present = "--owner-given-name" if family is None else "--owner-family-name"
            raise CommandError(f"{present} needs {missing} too.")
        if given is not None and family is not None:
            return person_name(given=given, family=family)
        if account_name is not None:
            return account_name
        if not interactive:
            raise CommandError(NAME_REQUIRED)
        try:
            given = input("Owner's given name: ")
            family = input("Owner's family name: ")
        except (EOFError, KeyboardInterrupt) as exc:
            raise CommandError("No name given.") from exc
        return person_name(given=given, family=family)

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
