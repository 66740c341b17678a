from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from accounts import selectors
from accounts.models import Member, User
from tests.factories import (
    GroupFactory,
    MemberFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_user_email_is_unique_whatever_its_case():
    # given
    UserFactory(email="Alice@Example.com")
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(email="alice@example.com")


def test_user_is_found_by_email_in_any_case():
    user = UserFactory(email="Alice@Example.com")
    assert User.objects.get_by_natural_key("ALICE@example.COM") == user


def test_member_user_name_is_unique_per_organization_whatever_its_case():
    # given
    organization = OrganizationFactory()
    MemberFactory(organization=organization, user_name="Straße@example.com")
    # when / then: compared case-insensitively, Unicode included, on every database
    with pytest.raises(IntegrityError), transaction.atomic():
        MemberFactory(organization=organization, user_name="STRASSE@example.com")


def test_member_and_group_external_ids_may_repeat_within_an_organization():
    # given
    organization = OrganizationFactory()
    MemberFactory(organization=organization, external_id="abc")
    GroupFactory(organization=organization, external_id="abc")
    # when: the client's identifier repeats (RFC 7643 §3.1 gives it no uniqueness)
    MemberFactory(organization=organization, external_id="abc")
    GroupFactory(organization=organization, external_id="abc")
    # then
    assert organization.members.filter(external_id="abc").count() == 2
    assert organization.groups.filter(external_id="abc").count() == 2


def test_two_organizations_hold_the_same_email_independently():
    # given
    first, second = OrganizationFactory(), OrganizationFactory()
    # when
    MemberFactory(organization=first, email="carol@example.com", full_name="Carol First")
    MemberFactory(organization=second, email="carol@example.com", full_name="Carol Second")
    # then: each organization sees its own member and nothing of the other's
    assert [m.full_name for m in selectors.member_list(first)] == ["Carol First"]
    assert [m.full_name for m in selectors.member_list(second)] == ["Carol Second"]


def test_a_deleted_member_frees_the_user_name_for_a_new_member():
    # given
    organization = OrganizationFactory()
    MemberFactory(organization=organization, user_name="dan@example.com", status="deleted")
    # when
    fresh = MemberFactory(organization=organization, user_name="Dan@example.com")
    # then
    matching = Member.objects.filter(organization=organization, user_name_key="dan@example.com")
    assert matching.count() == 2
    assert fresh.status == Member.Status.INVITED


def test_a_user_has_one_live_membership_per_organization():
    organization = OrganizationFactory()
    user = UserFactory()
    MemberFactory(organization=organization, user=user, email="x1@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        MemberFactory(organization=organization, user=user, email="x2@example.com")


def test_database_rejects_an_unknown_status_or_role():
    organization = OrganizationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        MemberFactory(organization=organization, status="banished")
    with pytest.raises(IntegrityError), transaction.atomic():
        MemberFactory(organization=organization, role="emperor")


def test_group_name_is_unique_per_organization_whatever_its_case():
    organization = OrganizationFactory()
    GroupFactory(organization=organization, display_name="Engineering")
    GroupFactory(display_name="engineering")  # another organization may use it
    with pytest.raises(IntegrityError), transaction.atomic():
        GroupFactory(organization=organization, display_name="ENGINEERING")


def test_tenant_ids_are_random_uuid4_and_distinct():
    first, second = OrganizationFactory(), OrganizationFactory()
    assert first.tenant_id != second.tenant_id
    assert first.tenant_id.version == 4


def test_member_status_counts_are_per_organization():
    # given
    organization, other = OrganizationFactory(), OrganizationFactory()
    MemberFactory.create_batch(2, organization=organization, status=Member.Status.ACTIVE)
    MemberFactory(organization=organization, status=Member.Status.SUSPENDED)
    MemberFactory.create_batch(5, organization=other, status=Member.Status.ACTIVE)
    # when
    counts = selectors.member_status_counts(organization)
    # then
    assert counts == {"invited": 0, "active": 2, "suspended": 1, "deleted": 0}
