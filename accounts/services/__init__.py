"""Every write to organizations, members and groups goes through these functions.

Views, management commands, SCIM adapters and tasks call them, so a change made from the panel and
the same change pushed by the identity provider have identical effects, audit row included.
"""

from accounts.services.groups import (
    GroupCreated,
    MembershipChange,
    SkippedMembers,
    group_create,
    group_delete,
    group_members_change,
    group_update,
)
from accounts.services.invitations import (
    invitation_accept,
    invitation_create,
    invitation_revoke,
)
from accounts.services.members import (
    EmailAddress,
    MemberProfile,
    member_provision,
    member_remove,
    member_set_active,
    member_update_profile,
)
from accounts.services.organizations import organization_create

__all__ = [
    "EmailAddress",
    "GroupCreated",
    "MemberProfile",
    "MembershipChange",
    "SkippedMembers",
    "group_create",
    "group_delete",
    "group_members_change",
    "group_update",
    "invitation_accept",
    "invitation_create",
    "invitation_revoke",
    "member_provision",
    "member_remove",
    "member_set_active",
    "member_update_profile",
    "organization_create",
]
