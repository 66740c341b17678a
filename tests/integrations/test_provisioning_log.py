"""The provisioning log: the list with its filters and keyset pages, an entry, the CSV export."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import Organization
from integrations import selectors, services
from integrations.log_filters import ProvisioningLogFilters
from integrations.models import ScimRequest
from tests.conftest import signed_in_client
from tests.factories import ActiveMemberFactory, GroupFactory, MemberFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/activity/provisioning/"
CSV_URL = "/activity/provisioning/export.csv"


def log_entry(organization: Organization, **fields: object) -> ScimRequest:
    values: dict[str, object] = {
        "request_id": uuid.uuid4().hex,
        "method": "GET",
        "path": "/Users",
        "status_code": 200,
        "duration_ms": 12,
        "client_kind": ScimRequest.ClientKind.ENTRA_ID,
        "outcome": "Listed members",
        **fields,
    }
    return ScimRequest.objects.create(organization=organization, **values)


def listed(client: Client, **params: str) -> set[int]:
    response = client.get(LIST_URL, params)
    assert response.status_code == 200
    return {entry.pk for entry in response.context["page"].entries}


def csv_rows(response: StreamingHttpResponse) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


# --- Access ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [LIST_URL, CSV_URL, "entry"])
def test_a_member_who_is_not_an_admin_gets_403(url):
    # given
    member = ActiveMemberFactory()
    entry = log_entry(member.organization)
    url = f"{LIST_URL}{entry.pk}/" if url == "entry" else url
    # when
    response = signed_in_client(member).get(url)
    # then
    assert response.status_code == 403


@pytest.mark.parametrize("url", [LIST_URL, CSV_URL, "entry"])
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    # given
    entry = log_entry(OrganizationFactory())
    url = f"{LIST_URL}{entry.pk}/" if url == "entry" else url
    # when
    response = client.get(url)
    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_another_organizations_requests_are_never_listed_exported_or_opened(owner, owner_client):
    # given
    mine = log_entry(owner.organization, outcome="Created member mine@contoso.com")
    theirs = log_entry(OrganizationFactory(), outcome="Created member theirs@fabrikam.com")
    # when
    page = owner_client.get(LIST_URL)
    export = owner_client.get(CSV_URL)
    opened = owner_client.get(f"{LIST_URL}{theirs.pk}/")
    # then
    html = page.content.decode()
    assert "mine@contoso.com" in html
    assert "theirs@fabrikam.com" not in html
    rows = csv_rows(export)
    assert [row[1] for row in rows[1:]] == [mine.request_id]
    assert opened.status_code == 404


def test_urls_have_names():
    assert reverse("provisioning_log") == LIST_URL
    assert reverse("provisioning_log_csv") == CSV_URL
    assert reverse("provisioning_log_entry", args=[7]) == f"{LIST_URL}7/"


# --- The list page -----------------------------------------------------------------------------


def test_list_page_shows_each_request_newest_first_with_tabs(owner, owner_client):
    # given
    now = timezone.now()
    older = log_entry(
        owner.organization,
        created_at=now - timedelta(minutes=5),
        method="POST",
        path="/Users",
        status_code=201,
        outcome="Created member alice@contoso.com",
        client_kind=ScimRequest.ClientKind.OKTA,
        duration_ms=1234,
    )
    newer = log_entry(
        owner.organization,
        created_at=now,
        method="PATCH",
        path="/Users/abc",
        status_code=409,
        outcome="Rejected: A member with the userName bob@contoso.com already exists.",
    )
    # when
    response = owner_client.get(LIST_URL)
    # then
    html = response.content.decode()
    assert [entry.pk for entry in response.context["page"].entries] == [newer.pk, older.pk]
    assert html.index("/Users/abc") < html.index("Created member alice@contoso.com")
    assert '<span class="badge badge-ok">201</span>' in html
    assert '<span class="badge badge-warn">409</span>' in html
    assert "Okta" in html
    assert "Microsoft Entra ID" in html
    assert "1,234 ms" in html
    assert f'href="{LIST_URL}{older.pk}/"' in html
    assert '<th scope="col">Time</th>' in html
    assert 'href="/activity/"' in html
    assert f'href="{LIST_URL}" aria-current="page">Provisioning log</a>' in html
    assert "2 requests" in html


def test_server_errors_have_a_red_badge(owner, owner_client):
    log_entry(owner.organization, status_code=503)
    html = owner_client.get(LIST_URL).content.decode()
    assert '<span class="badge badge-danger">503</span>' in html


def test_empty_log_explains_how_to_connect(owner_client):
    html = owner_client.get(LIST_URL).content.decode()
    assert "No requests yet" in html
    assert 'href="/integrations/"' in html
    assert "Export CSV" not in html


def test_empty_log_of_a_connected_organization_says_it_is_waiting(owner, owner_client):
    # given
    services.scim_token_issue(organization=owner.organization, actor=Actor.for_user(owner.user))
    # when
    html = owner_client.get(LIST_URL).content.decode()
    # then
    assert "connected but has not called yet" in html


def test_no_match_says_so(owner, owner_client):
    log_entry(owner.organization, method="GET")
    html = owner_client.get(LIST_URL, {"method": "DELETE"}).content.decode()
    assert "No requests match" in html
    assert "No requests yet" not in html


# --- Filters -----------------------------------------------------------------------------------


@pytest.fixture
def mixed_log(owner) -> dict[str, ScimRequest]:
    organization = owner.organization
    return {
        "ok": log_entry(organization, status_code=200),
        "created": log_entry(organization, method="POST", status_code=201, resource_type="User"),
        "not_modified": log_entry(organization, status_code=304),
        "conflict": log_entry(organization, method="POST", status_code=409),
        "not_found": log_entry(organization, method="PATCH", status_code=404),
        "error": log_entry(organization, method="DELETE", status_code=500, resource_type="Group"),
        "unavailable": log_entry(organization, method="PUT", status_code=503),
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("success", {"ok", "created", "not_modified"}),
        ("client-error", {"conflict", "not_found"}),
        ("server-error", {"error", "unavailable"}),
        ("", {"ok", "created", "not_modified", "conflict", "not_found", "error", "unavailable"}),
    ],
)
def test_status_class_filter(owner_client, mixed_log, status, expected):
    assert listed(owner_client, status=status) == {mixed_log[name].pk for name in expected}


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("POST", {"created", "conflict"}),
        ("PATCH", {"not_found"}),
        ("DELETE", {"error"}),
        ("PUT", {"unavailable"}),
        ("GET", {"ok", "not_modified"}),
    ],
)
def test_method_filter(owner_client, mixed_log, method, expected):
    assert listed(owner_client, method=method) == {mixed_log[name].pk for name in expected}


def test_warning_filter_lists_only_successes_with_a_warning(owner, owner_client, mixed_log):
    # given: one success with a warning among the mixed log
    warned = log_entry(
        owner.organization, method="PATCH", status_code=204, warning="Skipped 1 member id"
    )
    # when / then: the warning filter finds it alone; "Success" still includes it
    assert listed(owner_client, status="warning") == {warned.pk}
    assert warned.pk in listed(owner_client, status="success")
    assert warned.pk not in listed(owner_client, status="client-error")
    html = owner_client.get(LIST_URL).content.decode()
    assert html.count('data-testid="warning-badge"') == 1
    assert 'title="Skipped 1 member id"' in html


def test_resource_filter(owner_client, mixed_log):
    assert listed(owner_client, resource="User") == {mixed_log["created"].pk}
    assert listed(owner_client, resource="Group") == {mixed_log["error"].pk}


def test_status_and_method_filters_combine(owner_client, mixed_log):
    assert listed(owner_client, status="client-error", method="POST") == {mixed_log["conflict"].pk}
    assert listed(owner_client, status="success", method="POST", resource="User") == {
        mixed_log["created"].pk
    }
    assert listed(owner_client, status="server-error", method="POST") == set()


def test_unknown_choices_show_an_error_and_filter_nothing(owner_client, mixed_log):
    response = owner_client.get(LIST_URL, {"status": "teapot", "method": "BREW"})
    assert response.context["form"].errors.keys() == {"status", "method"}
    assert len(response.context["page"].entries) == len(mixed_log)


@pytest.fixture
def alice_log(owner) -> dict[str, ScimRequest]:
    """Requests about two members, one of them removed since, and about another organization's
    member who has the same userName."""
    organization = owner.organization
    alice = MemberFactory(
        organization=organization, user_name="Alice.Smith@contoso.com", email="alice@contoso.com"
    )
    bob = MemberFactory(
        organization=organization, user_name="bob@contoso.com", status="deleted", email=""
    )
    stranger = MemberFactory(user_name="Alice.Smith@contoso.com", email="alice@contoso.com")
    return {
        "alice_created": log_entry(
            organization,
            method="POST",
            status_code=201,
            resource_type="User",
            resource_id=str(alice.scim_id),
            outcome="Created member Alice.Smith@contoso.com",
        ),
        "alice_patched": log_entry(
            organization,
            method="PATCH",
            path=f"/Users/{alice.scim_id}",
            status_code=200,
            resource_type="User",
            resource_id=str(alice.scim_id),
            outcome="Updated member",
        ),
        "bob_removed": log_entry(
            organization,
            method="DELETE",
            path=f"/Users/{bob.scim_id}",
            status_code=204,
            resource_type="User",
            resource_id=str(bob.scim_id),
            outcome="Removed member",
        ),
        "alice_rejected": log_entry(
            organization,
            method="POST",
            status_code=409,
            outcome="Rejected: A member with the userName alice.smith@contoso.com already exists.",
        ),
        # A request about the other organization's member, logged (wrongly) here: its id must
        # not be found through this organization's member search.
        "stranger": log_entry(
            organization,
            method="GET",
            path="/Users/elsewhere",
            resource_type="User",
            resource_id=str(stranger.scim_id),
            outcome="Read member",
        ),
        "group": log_entry(organization, path="/Groups", resource_type="Group", outcome="Listed"),
        "filter": log_entry(organization, path="/Users", query='filter=userName eq "x"'),
    }


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("alice.smith@contoso.com", {"alice_created", "alice_patched", "alice_rejected"}),
        ("ALICE@contoso.COM", {"alice_created", "alice_patched"}),
        ("alice", {"alice_created", "alice_patched", "alice_rejected"}),
        ("bob@contoso.com", {"bob_removed"}),
        ("/Groups", {"group"}),
        ("elsewhere", {"stranger"}),
        ("nobody@contoso.com", set()),
    ],
)
def test_member_search_matches_userName_email_path_or_outcome(
    owner_client, alice_log, search, expected
):
    assert listed(owner_client, member=search) == {alice_log[name].pk for name in expected}


def test_member_search_matches_the_path_of_a_request_by_scim_id(owner_client, alice_log):
    scim_id = alice_log["alice_patched"].resource_id
    assert listed(owner_client, member=scim_id) == {alice_log["alice_patched"].pk}


def test_member_search_combines_with_the_other_filters(owner_client, alice_log):
    assert listed(owner_client, member="alice", method="POST") == {
        alice_log["alice_created"].pk,
        alice_log["alice_rejected"].pk,
    }
    assert listed(owner_client, member="alice", status="client-error") == {
        alice_log["alice_rejected"].pk
    }
    assert listed(owner_client, member="alice", resource="User", status="success") == {
        alice_log["alice_created"].pk,
        alice_log["alice_patched"].pk,
    }


@pytest.fixture
def vilnius_log(owner, settings) -> dict[str, ScimRequest]:
    """Requests around 11:00-12:00 in Vilnius on a winter day (UTC+2), i.e. 09:00-10:00 UTC."""
    settings.TIME_ZONE = "Europe/Vilnius"

    def at(hour: int, minute: int, second: int = 0) -> datetime:
        return datetime(2024, 1, 15, hour, minute, second, tzinfo=UTC)

    organization = owner.organization
    return {
        "before": log_entry(organization, created_at=at(8, 59, 59)),
        "start": log_entry(organization, created_at=at(9, 0)),
        "middle": log_entry(organization, created_at=at(9, 30), method="POST"),
        "last_minute": log_entry(organization, created_at=at(10, 0, 59)),
        "after": log_entry(organization, created_at=at(10, 1)),
    }


HOUR = {"since": "2024-01-15T11:00", "until": "2024-01-15T12:00"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (HOUR, {"start", "middle", "last_minute"}),
        ({"since": "2024-01-15T11:00"}, {"start", "middle", "last_minute", "after"}),
        ({"until": "2024-01-15T10:59"}, {"before"}),
        ({"since": "2024-01-15T11:30", "until": "2024-01-15T11:30"}, {"middle"}),
        ({"since": "2024-01-15T11:00:45", "until": "2024-01-15T11:30"}, {"start", "middle"}),
        ({**HOUR, "method": "POST"}, {"middle"}),
    ],
)
def test_time_range_is_read_in_the_server_time_zone(owner_client, vilnius_log, params, expected):
    assert listed(owner_client, **params) == {vilnius_log[name].pk for name in expected}


def test_time_range_shows_the_time_zone_and_keeps_the_inputs(owner_client, vilnius_log):
    html = owner_client.get(
        LIST_URL, {"since": "2024-01-15T11:00", "until": "2024-01-15T12:00"}
    ).content.decode()
    assert "Times are in Europe/Vilnius" in html
    assert 'type="datetime-local" name="since" value="2024-01-15T11:00"' in html
    assert 'type="datetime-local" name="until" value="2024-01-15T12:00"' in html
    assert '<label for="id_since">From</label>' in html


def test_an_end_before_the_start_is_an_error(owner_client, vilnius_log):
    response = owner_client.get(
        LIST_URL, {"since": "2024-01-15T12:00", "until": "2024-01-15T11:00"}
    )
    assert "Pick a time after the start of the range." in response.content.decode()
    # The valid start (10:00 UTC) still applies; the invalid end does not.
    assert {entry.pk for entry in response.context["page"].entries} == {
        vilnius_log["last_minute"].pk,
        vilnius_log["after"].pk,
    }


def test_selector_filters_as_the_page_does(owner, vilnius_log):
    filters = ProvisioningLogFilters(method="POST", since=datetime(2024, 1, 15, 9, 0, tzinfo=UTC))
    rows = selectors.provisioning_log(owner.organization, filters=filters)
    assert list(rows) == [vilnius_log["middle"]]
    assert filters.active
    assert not ProvisioningLogFilters().active


# --- Pages ---------------------------------------------------------------------------------------


def test_pages_go_older_and_back_newer_and_keep_the_filters(owner, owner_client):
    # given: 120 POSTs, 30 GETs in between
    start = timezone.now() - timedelta(hours=1)
    posts = [
        log_entry(owner.organization, method="POST", created_at=start + timedelta(seconds=i))
        for i in range(120)
    ]
    for i in range(30):
        log_entry(owner.organization, method="GET", created_at=start + timedelta(seconds=i))
    newest_first = [entry.pk for entry in reversed(posts)]
    # when
    first = owner_client.get(LIST_URL, {"method": "POST"})
    # then
    page = first.context["page"]
    assert [entry.pk for entry in page.entries] == newest_first[:50]
    assert page.newer is None
    html = first.content.decode()
    assert f'href="?method=POST&amp;before={page.older.token}" rel="next"' in html
    assert "120 requests match" in html
    # when: older, and older again
    second = owner_client.get(LIST_URL, {"method": "POST", "before": page.older.token})
    third = owner_client.get(
        LIST_URL, {"method": "POST", "before": second.context["page"].older.token}
    )
    # then
    assert [entry.pk for entry in second.context["page"].entries] == newest_first[50:100]
    assert [entry.pk for entry in third.context["page"].entries] == newest_first[100:]
    assert third.context["page"].older is None
    newer_token = third.context["page"].newer.token
    assert f'href="?method=POST&amp;after={newer_token}" rel="prev"' in third.content.decode()
    # when: back up
    back = owner_client.get(LIST_URL, {"method": "POST", "after": newer_token})
    # then
    assert [entry.pk for entry in back.context["page"].entries] == newest_first[50:100]
    assert back.context["page"].newer is not None


def test_pages_split_requests_made_in_the_same_instant(owner, owner_client):
    # given
    moment = timezone.now()
    entries = [log_entry(owner.organization, created_at=moment) for _ in range(110)]
    # when
    seen: list[int] = []
    params: dict[str, str] = {}
    for _ in range(3):
        page = owner_client.get(LIST_URL, params).context["page"]
        seen += [entry.pk for entry in page.entries]
        if page.older is None:
            break
        params = {"before": page.older.token}
    # then
    assert seen == sorted((entry.pk for entry in entries), reverse=True)


@pytest.mark.parametrize("cursor", ["nonsense", "1_", "_1", "99999999999999999999_1", "-5_3"])
def test_a_broken_cursor_shows_the_newest_page(owner, owner_client, cursor):
    entry = log_entry(owner.organization)
    assert listed(owner_client, before=cursor) == {entry.pk}
    assert listed(owner_client, after=cursor) == {entry.pk}


def test_a_cursor_past_the_end_shows_the_newest_page(owner, owner_client):
    entry = log_entry(owner.organization)
    long_ago = selectors.LogCursor(created_at=datetime(2000, 1, 1, tzinfo=UTC), id=1)
    assert listed(owner_client, before=long_ago.token) == {entry.pk}


def test_the_count_stops_at_its_cap(owner):
    for _ in range(12):
        log_entry(owner.organization)
    requests = selectors.provisioning_log(owner.organization, filters=ProvisioningLogFilters())
    page = selectors.provisioning_log_page(requests, size=5, count_cap=10)
    assert (page.total, page.total_capped) == (10, True)
    assert len(page.entries) == 5


@pytest.mark.parametrize("params", [{}, {"member": "contoso", "status": "success"}])
def test_the_list_costs_the_same_queries_for_5_and_200_requests(owner, owner_client, params):
    # given
    def add(count: int) -> None:
        for _ in range(count):
            member = MemberFactory(
                organization=owner.organization, user_name=f"{uuid.uuid4().hex}@contoso.com"
            )
            log_entry(owner.organization, resource_type="User", resource_id=str(member.scim_id))

    add(5)
    owner_client.get(LIST_URL)  # The first visit stores the current organization in the session.
    with CaptureQueriesContext(connection) as few:
        assert owner_client.get(LIST_URL, params).status_code == 200
    add(195)
    # when
    with CaptureQueriesContext(connection) as many:
        response = owner_client.get(LIST_URL, params)
    # then
    assert len(response.context["page"].entries) == 50
    assert len(many.captured_queries) == len(few.captured_queries)
    # The bodies of the 50 rows are never read for the list.
    page_query = next(q["sql"] for q in many.captured_queries if "LIMIT 51" in q["sql"])
    assert "request_body" not in page_query


# --- The entry page ----------------------------------------------------------------------------


def test_entry_page_shows_the_request_pretty_printed(owner, owner_client):
    # given
    member = MemberFactory(
        organization=owner.organization, user_name="alice@contoso.com", full_name="Alice Smith"
    )
    entry = log_entry(
        owner.organization,
        request_id="4f2c0d9e8b7a4c3d9e8f7a6b5c4d3e2f",
        method="PATCH",
        path=f"/Users/{member.scim_id}",
        query="aadOptscim062020",
        status_code=409,
        duration_ms=87,
        resource_type="User",
        resource_id=str(member.scim_id),
        remote_ip="203.0.113.7",
        outcome="Rejected: A member with the userName alice@contoso.com already exists.",
        request_body=json.dumps({"Operations": [{"op": "Replace", "value": {"active": True}}]}),
        response_body='{"status": "409", "scimType": "uniqueness"}',
    )
    # when
    response = owner_client.get(f"{LIST_URL}{entry.pk}/")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="request-id">4f2c0d9e8b7a4c3d9e8f7a6b5c4d3e2f<' in html
    assert "X-Request-Id" in html
    assert f"PATCH /Users/{member.scim_id}?aadOptscim062020" in html
    assert "203.0.113.7" in html
    assert "87 ms" in html
    assert "Microsoft Entra ID" in html
    assert 'data-testid="status-phrase">Conflict</span>' in html
    assert "Another member already has this userName" in html
    assert "Rejected: A member with the userName alice@contoso.com already exists." in html
    assert 'alice@contoso.com</span> <span class="muted">(Alice Smith)</span>' in html
    assert (
        "{\n  &quot;Operations&quot;: [\n    {\n      &quot;op&quot;: &quot;Replace&quot;," in html
    )
    assert "{\n  &quot;status&quot;: &quot;409&quot;,\n  &quot;scimType&quot;" in html
    assert 'aria-current="page">Request</span>' in html


def test_entry_page_names_the_group_and_says_when_a_resource_is_gone(owner, owner_client):
    # given
    group = GroupFactory(organization=owner.organization, display_name="Engineering")
    elsewhere = GroupFactory(display_name="Other company's group")
    about_group = log_entry(
        owner.organization, resource_type="Group", resource_id=str(group.scim_id)
    )
    about_foreign = log_entry(
        owner.organization, resource_type="Group", resource_id=str(elsewhere.scim_id)
    )
    about_nothing = log_entry(owner.organization, path="/Users")
    # when
    pages = [
        owner_client.get(f"{LIST_URL}{entry.pk}/").content.decode()
        for entry in (about_group, about_foreign, about_nothing)
    ]
    # then
    assert "Engineering" in pages[0]
    assert "Other company" not in pages[1]
    assert "No longer exists." in pages[1]
    assert "did not touch one member or group" in pages[2]


def test_entry_page_shows_the_warning_of_a_request_that_succeeded(owner, owner_client):
    # given
    warning = "Skipped 1 member id and applied the rest. Not a member of this organization (1): x."
    entry = log_entry(owner.organization, method="PATCH", status_code=204, warning=warning)
    plain = log_entry(owner.organization, method="PATCH", status_code=204)
    # when
    html = owner_client.get(f"{LIST_URL}{entry.pk}/").content.decode()
    # then
    assert f'data-testid="warning"><strong>Warning:</strong> {warning}' in html
    assert "This is not counted as an error." in html
    assert (
        'data-testid="warning"' not in owner_client.get(f"{LIST_URL}{plain.pk}/").content.decode()
    )


def test_entry_page_shows_a_body_that_is_not_json_as_stored(owner, owner_client):
    entry = log_entry(owner.organization, method="POST", request_body='{"userName": "cut off')
    html = owner_client.get(f"{LIST_URL}{entry.pk}/").content.decode()
    assert "{&quot;userName&quot;: &quot;cut off</pre>" in html
    assert "No body: a 204" not in html


def test_entry_page_back_link_returns_to_the_filtered_list(owner, owner_client):
    entry = log_entry(owner.organization, method="POST")
    list_html = owner_client.get(LIST_URL, {"method": "POST"}).content.decode()
    assert f'href="{LIST_URL}{entry.pk}/?method=POST"' in list_html
    html = owner_client.get(f"{LIST_URL}{entry.pk}/", {"method": "POST"}).content.decode()
    assert f'href="{LIST_URL}?method=POST"' in html


def test_entry_page_renders_the_stored_redacted_body_never_a_token(owner, owner_client):
    # given: an identity provider sends a password and its bearer token through the real endpoint
    issued = services.scim_token_issue(
        organization=owner.organization, actor=Actor.for_user(owner.user)
    )
    assert issued.secret.startswith("npscim_")
    scim = Client()
    response = scim.post(
        f"/scim/v2/{owner.organization.tenant_id}/Users",
        data=json.dumps(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "carol@contoso.com",
                "password": issued.secret,
                "active": True,
            }
        ),
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {issued.secret}",
        HTTP_USER_AGENT="Okta SCIM Client 1.0.0",
    )
    assert response.status_code == 201
    entry = ScimRequest.objects.get(organization=owner.organization, method="POST")
    # when
    html = owner_client.get(f"{LIST_URL}{entry.pk}/").content.decode()
    # then
    assert "npscim_" not in html
    assert "&quot;password&quot;: &quot;[redacted]&quot;" in html
    assert "Authorization:" not in html
    assert entry.request_id == response["X-Request-Id"]
    assert f'data-testid="request-id">{entry.request_id}<' in html
    assert "carol@contoso.com" in html
    assert "Okta" in html


def test_entry_page_renders_what_is_stored_in_a_redacted_field(owner, owner_client):
    entry = log_entry(
        owner.organization,
        method="POST",
        request_body='{"userName": "dave@contoso.com", "token": "[redacted]"}',
    )
    html = owner_client.get(f"{LIST_URL}{entry.pk}/").content.decode()
    assert "&quot;token&quot;: &quot;[redacted]&quot;" in html
    assert "npscim_" not in html


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_is_streamed_with_a_header_and_one_row_per_filtered_request(owner, owner_client):
    # given
    moment = datetime(2024, 3, 1, 12, 30, 5, tzinfo=UTC)
    created = log_entry(
        owner.organization,
        created_at=moment,
        request_id="r1",
        method="POST",
        path="/Users",
        status_code=201,
        duration_ms=40,
        resource_type="User",
        resource_id="9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d",
        outcome="Created member erin@contoso.com",
        client_kind=ScimRequest.ClientKind.OKTA,
    )
    log_entry(owner.organization, created_at=moment, method="GET", request_id="r2")
    # when
    response = owner_client.get(CSV_URL, {"method": "POST", "before": "ignored"})
    # then
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    filename = f"provisioning-log-{owner.organization.slug}-{timezone.localdate().isoformat()}.csv"
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert "no-store" in response["Cache-Control"]
    rows = csv_rows(response)
    assert rows[0] == [
        "time",
        "request_id",
        "client",
        "method",
        "path",
        "query",
        "status",
        "duration_ms",
        "resource_type",
        "resource_id",
        "outcome",
        "warning",
    ]
    assert rows[1:] == [
        [
            "2024-03-01T12:30:05+00:00",
            "r1",
            "Okta",
            "POST",
            "/Users",
            "",
            "201",
            "40",
            "User",
            created.resource_id,
            "Created member erin@contoso.com",
            "",
        ]
    ]


def test_csv_streams_a_long_log_in_chunks(owner, owner_client):
    # given
    moment = timezone.now()
    ScimRequest.objects.bulk_create(
        ScimRequest(
            organization=owner.organization,
            created_at=moment - timedelta(seconds=i),
            request_id=f"r{i}",
            method="GET",
            path="/Users",
            status_code=200,
        )
        for i in range(1201)
    )
    # when
    response = owner_client.get(CSV_URL)
    chunks = list(response.streaming_content)
    # then
    assert len(chunks) == 3
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert len(rows) == 1 + 1201
    assert [row[1] for row in rows[1:4]] == ["r0", "r1", "r2"]


def test_csv_applies_every_filter_of_the_page(owner, owner_client, alice_log):
    response = owner_client.get(CSV_URL, {"member": "alice", "status": "success"})
    exported = {row[1] for row in csv_rows(response)[1:]}
    assert exported == {
        alice_log["alice_created"].request_id,
        alice_log["alice_patched"].request_id,
    }


def test_csv_cells_that_look_like_formulas_are_kept_as_text(owner, owner_client):
    # given
    log_entry(
        owner.organization,
        path='=HYPERLINK("http://evil.example")',
        query="+1",
        outcome="-2+3",
        request_id="@SUM(A1)",
        resource_id="\tcmd",
        resource_type="\rUser",
    )
    # when
    row = csv_rows(owner_client.get(CSV_URL))[1]
    # then
    assert row[1] == "'@SUM(A1)"
    assert row[4] == '\'=HYPERLINK("http://evil.example")'
    assert row[5] == "'+1"
    assert row[8] == "'\rUser"
    assert row[9] == "'\tcmd"
    assert row[10] == "'-2+3"
    assert row[6] == "200"


def test_csv_with_an_invalid_filter_goes_back_to_the_page_with_the_error(owner_client):
    response = owner_client.get(CSV_URL, {"since": "yesterday"})
    assert response.status_code == 302
    assert response["Location"] == f"{LIST_URL}?since=yesterday"


def test_list_page_links_the_export_with_its_filters_not_its_page(owner, owner_client):
    log_entry(owner.organization, method="POST")
    html = owner_client.get(LIST_URL, {"method": "POST", "before": "1_1"}).content.decode()
    assert f'href="{CSV_URL}?method=POST"' in html


# --- Selectors for other pages -----------------------------------------------------------------


def test_recent_provisioning_problems_are_the_newest_failures_of_the_organization(owner):
    # given
    now = timezone.now()
    organization = owner.organization
    failures = [
        log_entry(organization, status_code=code, created_at=now - timedelta(minutes=i))
        for i, code in enumerate([400, 500, 409, 404])
    ]
    log_entry(organization, status_code=201, created_at=now)
    log_entry(OrganizationFactory(), status_code=500, created_at=now)
    # when
    problems = selectors.recent_provisioning_problems(organization, limit=3)
    # then
    assert problems == failures[:3]
    assert selectors.recent_provisioning_problems(organization) == failures


def test_recent_provisioning_problems_interleave_warnings_with_errors_newest_first(owner):
    # given: errors, successes with a warning, plain successes, and another organization's
    now = timezone.now()
    organization = owner.organization
    warned = log_entry(organization, status_code=204, warning="Skipped 1 member id", created_at=now)
    error = log_entry(organization, status_code=409, created_at=now - timedelta(minutes=1))
    older_warned = log_entry(
        organization, status_code=201, warning="Skipped 2", created_at=now - timedelta(minutes=2)
    )
    log_entry(organization, status_code=200, created_at=now - timedelta(seconds=30))
    log_entry(OrganizationFactory(), status_code=204, warning="theirs", created_at=now)
    # when
    problems = selectors.recent_provisioning_problems(organization)
    # then
    assert problems == [warned, error, older_warned]
    assert selectors.recent_provisioning_problems(organization, limit=2) == [warned, error]


def test_warnings_never_count_as_errors_in_the_error_rate(owner):
    # given: four successes, one of them with a warning, and one error
    organization = owner.organization
    for _ in range(3):
        log_entry(organization, status_code=200)
    log_entry(organization, status_code=204, warning="Skipped 3 member ids")
    log_entry(organization, status_code=400)
    # when
    status = selectors.connection_status(organization)
    # then
    assert (status.requests_24h, status.errors_24h) == (5, 1)


def test_dashboard_shows_warnings_apart_from_errors(owner, owner_client):
    # given
    organization = owner.organization
    now = timezone.now()
    log_entry(
        organization,
        method="PATCH",
        path="/Groups/g1",
        status_code=204,
        outcome="Added 97 members to group Sales",
        warning="Skipped 3 member ids and applied the rest. "
        "Not a member of this organization (3): a, b, c.",
        created_at=now,
    )
    log_entry(
        organization,
        method="POST",
        path="/Users",
        status_code=409,
        outcome="Rejected: taken",
        created_at=now - timedelta(minutes=1),
    )
    # when
    html = owner_client.get("/").content.decode()
    # then: both are listed, each marked for what it is
    assert "Recent provisioning problems" in html
    assert html.count('data-kind="warning"') == 1 and html.count('data-kind="error"') == 1
    assert "Added 97 members to group Sales" in html
    assert 'data-testid="problem-warning">Skipped 3 member ids and applied the rest.' in html
    assert "204, applied" in html
