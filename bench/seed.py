"""Seeds benchmark data fast with bulk_create (fixture data, not traffic: no services).

Commands (run with the benchmark's environment; bench/run.py does it)::

    python -m bench.seed members --organization SLUG --start 0 --count 1000
    python -m bench.seed lists --organization SLUG --count 1000 --names FILE --ids FILE
    python -m bench.seed memberships --organization SLUG --group SCIM_ID --count 50000
"""

from __future__ import annotations

import argparse
import os
import uuid

import django

BATCH = 5000


def user_name(index: int) -> str:
    return f"bench.user{index}@bench.example"


def seed_members(slug: str, start: int, count: int) -> None:
    from accounts.models import Member, Organization

    organization = Organization.objects.get(slug=slug)
    for offset in range(start, start + count, BATCH):
        batch = []
        for index in range(offset, min(offset + BATCH, start + count)):
            name = user_name(index)
            batch.append(
                Member(
                    organization=organization,
                    user_name=name,
                    user_name_key=name.casefold(),
                    email=name,
                    full_name=f"Bench User {index}",
                    display_name=f"Bench User {index}",
                    scim_id=uuid.uuid4(),
                    status=Member.Status.INVITED,
                    source=Member.Source.IDENTITY_PROVIDER,
                    scim_attributes={"userName": name, "active": True},
                )
            )
        Member.objects.bulk_create(batch, batch_size=BATCH)


def write_lists(slug: str, start: int, count: int, names: str | None, ids: str | None) -> None:
    """Writes userNames and SCIM ids of members [start, start+count) for the load generator."""
    from accounts.models import Member

    keys = [user_name(i).casefold() for i in range(start, start + count)]
    rows: list[tuple[str, uuid.UUID]] = []
    for offset in range(0, len(keys), BATCH):
        rows += list(
            Member.objects.filter(
                organization__slug=slug, user_name_key__in=keys[offset : offset + BATCH]
            ).values_list("user_name", "scim_id")
        )
    if names:
        with open(names, "w", encoding="utf-8") as out:
            out.writelines(f"{name}\n" for name, _ in rows)
    if ids:
        with open(ids, "w", encoding="utf-8") as out:
            out.writelines(f"{scim_id}\n" for _, scim_id in rows)


def seed_memberships(slug: str, group: str, start: int, count: int) -> None:
    from accounts.models import Group, GroupMembership, Member

    target = Group.objects.get(scim_id=group, organization__slug=slug)
    keys = [user_name(i).casefold() for i in range(start, start + count)]
    for offset in range(0, len(keys), BATCH):
        member_ids = Member.objects.filter(
            organization=target.organization, user_name_key__in=keys[offset : offset + BATCH]
        ).values_list("id", flat=True)
        GroupMembership.objects.bulk_create(
            [GroupMembership(group=target, member_id=member_id) for member_id in member_ids],
            batch_size=BATCH,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["members", "lists", "memberships"])
    parser.add_argument("--organization", required=True)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--names")
    parser.add_argument("--ids")
    parser.add_argument("--group")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nordpass_admin.settings")
    django.setup()
    if args.what == "members":
        seed_members(args.organization, args.start, args.count)
    elif args.what == "lists":
        write_lists(args.organization, args.start, args.count, args.names, args.ids)
    else:
        seed_memberships(args.organization, args.group, args.start, args.count)


if __name__ == "__main__":
    main()
