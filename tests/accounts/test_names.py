"""Names in the panel: the Invite form takes them in two parts, and a person corrects their own
on the account page unless the identity provider manages it."""

from __future__ import annotations

import pytest

from accounts.exceptions import InvalidInput
from accounts.models import AuditLogEntry, Member
from accounts.names import person_name, split_full_name
from tests.conftest import signed_in_client
from tests.factories import ActiveMemberFactory, OwnerFactory
from tests.integrations.scim.conftest import scim_client_for

pytestmark = pytest.mark.django_db


def test_split_and_person_name_collapse_spaces_and_keep_the_order():
    assert split_full_name(" Ada \t Lovelace ").formatted == "Ada Lovelace"
    assert person_name(given=" Mary  Ann", family="Smith ").formatted == "Mary Ann Smith"
    with pytest.raises(InvalidInput, match="longer than 200"):
        person_name(given="A" * 100, family="B" * 100)


# --- the Invite form ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "missing",
    [{"given_name": "Grace"}, {"family_name": "Hopper"}, {"given_name": " ", "family_name": " "}],
)
def test_invite_without_both_names_is_refused(owner, owner_client, missing):
    # when
    response = owner_client.post(
        "/users/invite/", {"email": "grace@contoso.com", "role": "member", **missing}, follow=True
    )
    # then
    assert b"Enter the person&#x27;s given name and family name." in response.content
    assert not Member.objects.filter(user_name="grace@contoso.com").exists()


def test_users_page_invite_form_asks_for_given_and_family_name(owner_client):
    page = owner_client.get("/users/").content.decode()
    assert '<label for="invite-given-name">Given name</label>' in page
    assert 'name="given_name" id="invite-given-name" maxlength="100" required' in page
    assert 'name="family_name" id="invite-family-name" maxlength="100" required' in page


def test_an_invited_member_is_a_complete_scim_user(owner, owner_client):
    # given
    owner_client.post(
        "/users/invite/",
        {
            "email": "grace@contoso.com",
            "given_name": "Grace",
            "family_name": "Hopper",
            "role": "member",
        },
    )
    # when: the identity provider looks the person up to match them
    found = scim_client_for(owner.organization).get('/Users?filter=userName eq "grace@contoso.com"')
    # then
    user = found.body["Resources"][0]
    assert user["name"] == {
        "givenName": "Grace",
        "familyName": "Hopper",
        "formatted": "Grace Hopper",
    }
    assert user["displayName"] == "Grace Hopper"


# --- the account page ----------------------------------------------------------------------------


def test_account_page_shows_the_name_form_with_the_current_name():
    member = ActiveMemberFactory(given_name="Ada", family_name="Byron")
    page = signed_in_client(member).get("/account/").content.decode()
    assert f"Your name in {member.organization.name}" in page
    assert 'name="given_name" value="Ada"' in page
    assert 'name="family_name" value="Byron"' in page


def test_a_person_corrects_their_own_name():
    # given
    member = ActiveMemberFactory(given_name="Ada", family_name="Byron", full_name="Ada Byron")
    version = member.version
    # when
    response = signed_in_client(member).post(
        "/account/name/", {"given_name": " Ada ", "family_name": "Lovelace"}, follow=True
    )
    # then
    assert b"Your name is now Ada Lovelace." in response.content
    member.refresh_from_db()
    assert (member.given_name, member.family_name, member.formatted_name, member.full_name) == (
        "Ada",
        "Lovelace",
        "Ada Lovelace",
        "Ada Lovelace",
    )
    assert member.user.full_name == "Ada Lovelace"
    assert member.version == version + 1
    entry = AuditLogEntry.objects.get(action="member.renamed")
    assert (entry.actor_user, entry.target_id) == (member.user, str(member.pk))
    assert entry.before["family_name"] == "Byron"
    assert entry.after == {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "formatted_name": "Ada Lovelace",
        "full_name": "Ada Lovelace",
    }
    # and the identity provider sees it
    user = scim_client_for(member.organization).get(f"/Users/{member.scim_id}").body
    assert user["name"]["familyName"] == "Lovelace"


def test_saving_the_same_name_changes_nothing():
    member = ActiveMemberFactory(given_name="Ada", family_name="Lovelace", full_name="Ada Lovelace")
    member.formatted_name = "Ada Lovelace"
    member.save()
    signed_in_client(member).post(
        "/account/name/", {"given_name": "Ada", "family_name": "Lovelace"}
    )
    assert not AuditLogEntry.objects.filter(action="member.renamed").exists()


def test_an_incomplete_name_is_refused():
    member = ActiveMemberFactory(given_name="Ada", family_name="Lovelace")
    response = signed_in_client(member).post(
        "/account/name/", {"given_name": "Ada", "family_name": ""}, follow=True
    )
    assert b"Enter your given name and your family name." in response.content
    member.refresh_from_db()
    assert member.family_name == "Lovelace"


def test_a_name_too_long_says_so():
    member = ActiveMemberFactory(given_name="Ada", family_name="Lovelace")
    response = signed_in_client(member).post(
        "/account/name/", {"given_name": "Ada", "family_name": "L" * 101}, follow=True
    )
    assert b"Each part of your name can be at most 100 characters." in response.content
    member.refresh_from_db()
    assert member.family_name == "Lovelace"


def test_a_member_the_identity_provider_manages_cannot_change_their_name():
    # given
    owner = OwnerFactory()
    member = ActiveMemberFactory(
        organization=owner.organization,
        given_name="Ada",
        family_name="Byron",
        full_name="Ada Byron",
        source=Member.Source.IDENTITY_PROVIDER,
    )
    client = signed_in_client(member)
    # when
    page = client.get("/account/").content.decode()
    response = client.post(
        "/account/name/", {"given_name": "Ada", "family_name": "Lovelace"}, follow=True
    )
    # then: no form, an explanation, and a refused post
    assert 'action="/account/name/"' not in page
    assert "Your name comes from your identity provider, which manages" in page
    assert b"Your name comes from your organization&#x27;s identity provider" in response.content
    member.refresh_from_db()
    assert member.family_name == "Byron"
    assert not AuditLogEntry.objects.filter(action="member.renamed").exists()
