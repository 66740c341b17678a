"""Organizations and their first owner."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.audit import Actor, audit_log_record
from accounts.exceptions import AlreadyExists, InvalidInput
from accounts.models import Member, Organization, User
from accounts.names import name_from_full_name, person_name


def _clean_email(email: str) -> str:
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput(f"{email!r} is not a valid email address.") from exc
    return email


def _check_password(password: str, *, user: User | None = None) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages)) from exc


# Short names that would collide with fixed paths under an organization's own addresses
# (`/sso/<slug>/` beside `/sso/callback/`).
RESERVED_SLUGS = frozenset({"callback"})


def organization_create(
    *,
    name: str,
    owner_email: str,
    owner_password: str | None,
    actor: Actor,
    slug: str | None = None,
    owner_given_name: str = "",
    owner_family_name: str = "",
) -> Organization:
    """Create an organization and its first owner.

    A new owner account needs a password. An email that already has an account becomes the owner
    with its existing password (a person may belong to several organizations), and passing a
    password for it is refused rather than silently ignored.

    The owner needs a given and a family name: the identity provider lists them in `GET /Users`
    and Okta's spec test requires both of its first user. An existing account's name is used
    when none is given and it has one of two words or more.
    """
    name = (name or "").strip()
    if not name:
        raise InvalidInput("The organization needs a name.")
    slug = slugify(slug or name)[:60]
    if not slug:
        raise InvalidInput("The organization name must contain at least one letter or digit.")
    if slug in RESERVED_SLUGS:
        raise InvalidInput(f"{slug!r} is reserved: choose another short name (--slug).")
    owner_email = _clean_email(owner_email)
    existing = User.objects.filter(email__iexact=owner_email).first()
    account_name = name_from_full_name(existing.full_name) if existing else None
    if account_name is not None and not (owner_given_name.strip() or owner_family_name.strip()):
        owner_name = account_name
    else:
        owner_name = person_name(given=owner_given_name, family=owner_family_name)

    with transaction.atomic():
        if Organization.objects.filter(name__iexact=name).exists():
            raise AlreadyExists(f"An organization named {name!r} already exists.")
        if Organization.objects.filter(slug=slug).exists():
            raise AlreadyExists(f"An organization with the slug {slug!r} already exists.")

        owner = User.objects.filter(email__iexact=owner_email).first()
        if owner is None:
            if not owner_password:
                raise InvalidInput("A password is required for a new owner account.")
            candidate = User(email=owner_email, full_name=owner_name.formatted)
            _check_password(owner_password, user=candidate)
            owner = User.objects.create_user(
                owner_email, owner_password, full_name=owner_name.formatted
            )
        elif owner_password:
            raise InvalidInput(
                f"{owner_email} already has an account. Leave out the password to make that "
                "account the owner; it keeps its current password."
            )

        try:
            organization = Organization.objects.create(name=name, slug=slug)
        except IntegrityError as exc:  # a concurrent create won the race
            raise AlreadyExists(f"An organization named {name!r} already exists.") from exc
        member = Member.objects.create(
            organization=organization,
            user=owner,
            user_name=owner.email,
            email=owner.email,
            full_name=owner_name.formatted,
            given_name=owner_name.given,
            family_name=owner_name.family,
            formatted_name=owner_name.formatted,
            role=Member.Role.OWNER,
            status=Member.Status.ACTIVE,
            source=Member.Source.PANEL,
            activated_at=timezone.now(),
        )
        audit_log_record(
            organization=organization,
            actor=actor,
            action="organization.created",
            target=organization,
            after={"name": organization.name, "slug": organization.slug},
        )
        audit_log_record(
            organization=organization,
            actor=actor,
            action="member.created",
            target=member,
            target_label=member.email,
            after={
                "email": member.email,
                "name": member.formatted_name,
                "role": member.role,
                "status": member.status,
            },
        )
        # The deployment's DEPROVISION_GUARD_* become this organization's own guard settings.
        from integrations.deprovision_guard import deprovision_guard_policy_create

        deprovision_guard_policy_create(organization=organization)
    return organization
