"""Factories for the models; tests build what they need instead of loading fixture files."""

from __future__ import annotations

import factory
from django.utils import timezone

from accounts.models import AuditLogEntry, Group, GroupMembership, Member, Organization, User

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.django.Password(DEFAULT_PASSWORD)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    organization = factory.SubFactory(OrganizationFactory)
    user = None
    email = factory.Sequence(lambda n: f"member{n}@example.com")
    user_name = factory.SelfAttribute("email")
    full_name = factory.Faker("name")
    role = Member.Role.MEMBER
    status = Member.Status.INVITED
    source = Member.Source.PANEL


class ActiveMemberFactory(MemberFactory):
    """A member who has an account and can sign in."""

    user = factory.SubFactory(UserFactory, email=factory.SelfAttribute("..email"))
    status = Member.Status.ACTIVE
    activated_at = factory.LazyFunction(timezone.now)


class AdminFactory(ActiveMemberFactory):
    role = Member.Role.ADMIN


class OwnerFactory(ActiveMemberFactory):
    role = Member.Role.OWNER


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    organization = factory.SubFactory(OrganizationFactory)
    display_name = factory.Sequence(lambda n: f"Group {n}")


class GroupMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupMembership

    group = factory.SubFactory(GroupFactory)
    member = factory.SubFactory(
        MemberFactory, organization=factory.SelfAttribute("..group.organization")
    )


class AuditLogEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditLogEntry

    organization = factory.SubFactory(OrganizationFactory)
    actor_kind = AuditLogEntry.ActorKind.SYSTEM
    actor_label = "System"
    action = "member.created"
