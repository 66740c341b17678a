"""An owner's change to the mass-deprovisioning guard applies to the identity provider's very
next request, over a real socket: a lowered minimum holds a deactivation beyond it (429), and
the guard turned off lets the same request through."""

from __future__ import annotations

import pytest

from accounts.models import Member
from integrations.models import DeprovisionHold
from tests.conftest import signed_in_client
from tests.factories import MemberFactory, OwnerFactory

pytestmark = pytest.mark.django_db(transaction=True)

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SETTINGS = {
    "enabled": "on",
    "share_percent": "1",
    "min_members": "2",
    "window_value": "10",
    "window_unit": "minutes",
    "keep_value": "24",
    "keep_unit": "hours",
}


def entra_disable(live_scim, member: Member):
    """Entra ID's disable (scim-notes §5): a capitalised op and the string "False"."""
    return live_scim.patch(
        f"/Users/{member.scim_id}?aadOptscim062020",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
        },
        headers={"User-Agent": "Microsoft.Identity.Provisioning"},
    )


def test_a_lowered_minimum_holds_and_turning_the_guard_off_lets_it_through(
    live_scim, organization, settings
):
    # given: Contoso piloting Entra ID with six test users, under the default minimum of 10
    settings.DEPROVISION_GUARD_SHARE = 0.2
    settings.DEPROVISION_GUARD_MIN_MEMBERS = 10
    owner = OwnerFactory(organization=organization, email="owner@contoso.test")
    people = MemberFactory.create_batch(
        6,
        organization=organization,
        status=Member.Status.ACTIVE,
        source=Member.Source.IDENTITY_PROVIDER,
    )
    first = entra_disable(live_scim, people[0])
    assert first.status == 200

    # when: the owner lowers the minimum to 2 (1% of 7 is 0) with a 10-minute window
    owner_client = signed_in_client(owner)
    assert (
        owner_client.post("/integrations/deprovision-guard/settings/", SETTINGS).status_code == 302
    )

    # then: the second is applied, the third is held
    second = entra_disable(live_scim, people[1])
    third = entra_disable(live_scim, people[2])
    assert second.status == 200
    assert third.status == 429
    assert third.headers["Retry-After"] == "600"
    assert third.headers["Content-Type"].startswith("application/scim+json")
    assert third.body["schemas"] == [ERROR]
    assert third.body["status"] == "429"
    assert str(third.body["detail"]).startswith("Held by the mass-deprovisioning guard: ")
    assert "within 10 minutes (the limit is 2)" in str(third.body["detail"])
    assert Member.objects.get(pk=people[2].pk).status == Member.Status.ACTIVE

    # when: the owner turns the guard off
    off = {key: value for key, value in SETTINGS.items() if key != "enabled"}
    assert owner_client.post("/integrations/deprovision-guard/settings/", off).status_code == 302

    # then: Entra's retry of the same request succeeds, and so does the next one
    retry = entra_disable(live_scim, people[2])
    fourth = entra_disable(live_scim, people[3])
    assert (retry.status, fourth.status) == (200, 200)
    assert retry.body["active"] is False
    assert Member.objects.get(pk=people[2].pk).status == Member.Status.SUSPENDED
    # and: the hold opened before stays for an owner or admin to close
    assert DeprovisionHold.objects.get().state == DeprovisionHold.State.HOLDING
