"""Every page of the panel, signed out and in, through axe-core and at a phone's width.

The pages are data (the VISITS tables below): each names the route it must land on, so a visit
that gets redirected elsewhere fails instead of auditing the wrong page, and
`test_every_panel_route_is_audited` fails when a new named route has neither a visit nor a reason
in NOT_PAGES. On every page: zero axe violations (every rule axe runs by default, plus every rule
tagged WCAG 2.0/2.1 A or AA) at 1280 px wide, with disclosures (<details>) opened so the forms
inside are audited too; and at 375 px the page itself never scrolls sideways (a table may, inside
its own `.table-wrap`). Screenshots at both widths: test-artifacts/screenshots/a11y-*.png.

axe-core comes bundled in axe-playwright-python (axe-core is MPL-2.0, the wrapper MIT).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from django.contrib.auth.tokens import default_token_generator
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.audit import Actor
from accounts.models import Invitation, Member, Organization
from accounts.services import invitations as invitation_services
from accounts.twofactor import seal_secret
from integrations import domains
from integrations.models import DeprovisionHold, EmailDomain, ScimRequest, SsoConnection
from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_two_factor import code_for
from tests.dns_server import loopback_dns
from tests.factories import (
    DEFAULT_PASSWORD,
    ActiveMemberFactory,
    AdminFactory,
    MemberFactory,
    OrganizationFactory,
    OwnerFactory,
)
from tests.integrations.scim.conftest import ScimClient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 812}
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTRA_AGENT = "Microsoft.Identity.Provisioning"

# Named routes that render no page of their own: form posts that redirect (their result pages are
# audited where they land), downloads and machine endpoints.
NOT_PAGES = {
    "healthz": "JSON for the load balancer",
    "readyz": "JSON for the load balancer",
    "metrics": "Prometheus text",
    "activity_csv": "CSV download",
    "provisioning_log_csv": "CSV download",
    "organization_switch": "POST, redirects to the dashboard",
    "organization_security": "POST, redirects to the account page",
    "member_add": "POST, redirects to the member or the Users page",
    "member_role": "POST, redirects to the member",
    "member_action": "POST, redirects to the member or the Users page",
    "member_invite": "POST, redirects back",
    "account_name": "POST, redirects to the account page (its form is audited there)",
    "member_invitation_revoke": "POST, redirects back",
    "group_admin_mapping": "POST, redirects to the group",
    "two_factor_disable": "POST, redirects to the account page",
    "two_factor_replace": "POST, redirects to the set-up page (audited there)",
    "integration_email_domain_check": "POST, redirects to the email domains page",
    "integration_email_domain_remove": "POST, redirects to the email domains page",
    "integration_sso_remove": "POST, redirects to the provider page",
    "sso_test": "POST, redirects to the identity provider; its result needs one (tests/sso)",
}
# Mounted apps that are not the panel: SCIM speaks JSON, Django's admin and anymail's webhooks
# are not pages an organization's people use.
NOT_PANEL_PREFIXES = ("scim/", "^scim/", "anymail/", "django-admin/")


# --- What to visit -------------------------------------------------------------------------------


Step = Callable[[Any, dict[str, Any]], None]


@dataclass(frozen=True)
class Visit:
    """One page in one state. `go` is a path (formatted with the scenario's data) or steps in the
    browser that end on the page; `route` is the URL name it must land on ("404"/"403" for the
    error pages)."""

    label: str
    route: str
    go: str | Step
    status: int = 200


def submit(button: str, **fields: str) -> Step:
    """Fill labelled fields on the current page and press a button."""

    def step(page, data: dict[str, Any]) -> None:
        for label, value in fields.items():
            page.get_by_label(label.replace("_", " "), exact=True).fill(value.format(**data))
        page.get_by_role("button", name=button, exact=True).click()
        page.wait_for_load_state()

    return step


def then(*steps: Step | str) -> Step:
    """Steps in order; a string is a path to open."""

    def step(page, data: dict[str, Any]) -> None:
        for each in steps:
            if isinstance(each, str):
                page.goto(each.format(**data))
            else:
                each(page, data)

    return step


def sign_out(page, data: dict[str, Any]) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()


def two_factor_code(page, data: dict[str, Any]) -> None:
    """What the authenticator app shows now for the key on the set-up page."""
    page.get_by_label("Authentication code").fill(code_for(data["manual_key"]))


def remember_manual_key(page, data: dict[str, Any]) -> None:
    data["manual_key"] = page.get_by_test_id("manual-key").inner_text()


def until_rate_limited(page, data: dict[str, Any]) -> None:
    for _ in range(30):
        response = page.goto(f"/invite/{data['unknown_token']}/")
        if response is not None and response.status == 429:
            return
    raise AssertionError("The registration page never said it was rate limited")


def remember_recovery_codes(page, data: dict[str, Any]) -> None:
    data["recovery_codes"] = page.get_by_test_id("recovery-codes").inner_text().split()


def spend_recovery_code(summary: str, label: str) -> Step:
    """One of the two-factor actions on the account page, confirmed with a recovery code (no
    waiting for the authenticator's next 30-second step)."""

    def step(page, data: dict[str, Any]) -> None:
        page.goto("/account/")
        action = page.locator("details", has=page.locator("summary", has_text=summary))
        action.locator("summary").click()
        action.get_by_label(label).fill(data["recovery_codes"].pop())
        action.get_by_role("button").click()
        page.wait_for_load_state()
        if page.get_by_test_id("recovery-codes").count():
            remember_recovery_codes(page, data)

    return step


def fill_sso(issuer: str) -> Step:
    """The single sign-on form of a provider page, filled and saved."""

    def step(page, data: dict[str, Any]) -> None:
        page.get_by_test_id("sso-issuer").fill(issuer)
        page.get_by_test_id("sso-client-id").fill("11111111-2222-3333-4444-555555555555")
        page.get_by_test_id("sso-client-secret").fill("a-client-secret")
        page.get_by_test_id("sso-save").click()
        page.wait_for_load_state()

    return step


def open_details(name: str) -> Step:
    def step(page, data: dict[str, Any]) -> None:
        page.locator("summary", has_text=name).click()

    return step


SIGNED_OUT = [
    Visit("sign-in", "login", "/login/"),
    Visit(
        "sign-in-email-error", "login", then("/login/", submit("Continue", Email="not-an-address"))
    ),
    Visit("sign-in-password", "login", then("/login/", submit("Continue", Email="{owner_email}"))),
    Visit("sign-in-short-name", "login", "/login/?step=sso"),
    Visit(
        "sign-in-short-name-error",
        "login",
        then("/login/?step=sso", submit("Continue", Organization_short_name="nobody")),
    ),
    Visit(
        "sign-in-error",
        "login",
        then(
            "/login/",
            submit("Continue", Email="nobody@example.com"),
            submit("Sign in", Password="wrong-password"),
        ),
    ),
    Visit("password-reset", "password_reset", "/password-reset/"),
    Visit(
        "password-reset-sent",
        "password_reset_done",
        then("/password-reset/", submit("Send reset link", Email="{owner_email}")),
    ),
    Visit("password-reset-confirm", "password_reset_confirm", "{reset_path}"),
    Visit(
        "password-reset-confirm-error",
        "password_reset_confirm",
        then(
            "{reset_path}",
            submit("Set password", New_password="short", New_password_confirmation="other"),
        ),
    ),
    Visit("password-reset-invalid", "password_reset_confirm", "/password-reset/MQ/bad-token/"),
    Visit(
        "password-reset-complete",
        "password_reset_complete",
        then(
            "{reset_path}",
            submit(
                "Set password",
                New_password="a-new-and-long-passphrase",
                New_password_confirmation="a-new-and-long-passphrase",
            ),
        ),
    ),
    Visit("invitation-new-account", "invitation_accept", "/invite/{invite_new}/"),
    Visit(
        "invitation-new-account-error",
        "invitation_accept",
        then("/invite/{invite_new}/", submit("Create my account")),
    ),
    Visit("invitation-existing-account", "invitation_accept", "/invite/{invite_existing}/"),
    Visit("invitation-used", "invitation_accept", "/invite/{invite_used}/", 410),
    Visit("invitation-expired", "invitation_accept", "/invite/{invite_expired}/", 410),
    Visit("invitation-revoked", "invitation_accept", "/invite/{invite_revoked}/", 410),
    Visit("invitation-unknown", "invitation_accept", "/invite/{unknown_token}/", 410),
    Visit("not-found-signed-out", "404", "/no-such-page/", 404),
    # Single sign-on pages that need no identity provider: an organization without it, and a
    # callback that belongs to no sign-in started in this browser.
    Visit("sso-not-set-up", "sso_start", "/sso/no-such-organization/", 404),
    Visit("sso-expired", "sso_callback", "/sso/callback/?state=unknown&code=x", 400),
    # Sign in, then out: the signed-out page.
    Visit(
        "signed-out",
        "logout",
        then(
            "/login/",
            submit("Continue", Email="{member_email}"),
            submit("Sign in", Password=DEFAULT_PASSWORD),
            sign_out,
        ),
    ),
    # Last: it uses up the registration rate limit.
    Visit("invitation-rate-limited", "invitation_accept", until_rate_limited, 429),
]

# Contoso verified contoso.com and has Entra ID single sign-on (optional, then required); Fabrikam
# requires it and its member Pat is an owner nowhere.
SSO_SIGN_IN = [
    Visit(
        "sign-in-sso-optional",
        "login",
        then("/login/", submit("Continue", Email="ann@contoso.com")),
    ),
    Visit("invitation-sso-optional", "invitation_accept", "/invite/{invite_contoso}/"),
    Visit(
        "sign-in-sso-password-refused",
        "login",
        then(
            "/login/",
            submit("Continue", Email="pat@example.org"),
            submit("Sign in", Password=DEFAULT_PASSWORD),
        ),
    ),
    Visit("invitation-sso-required", "invitation_accept", "/invite/{invite_fabrikam}/"),
    Visit(
        "sign-in-sso-required",
        "login",
        then(
            "/login/",
            submit("Continue", Email="zed@fabrikam.test"),
            "/login/",
        ),
    ),
]

OWNER_EMPTY = [
    Visit("dashboard-empty", "dashboard", "/"),
    Visit("users-empty", "user_list", "/users/"),
    Visit("groups-empty", "group_list", "/groups/"),
    Visit("integrations-not-connected", "integration_list", "/integrations/"),
    Visit("entra-id-before-credentials", "integration_detail", "/integrations/entra-id/"),
    Visit("okta-before-credentials", "integration_detail", "/integrations/okta/"),
    Visit("scim-before-credentials", "integration_detail", "/integrations/scim/"),
    Visit(
        "entra-id-sso-error",
        "integration_sso_save",
        then("/integrations/entra-id/", fill_sso("contoso.onmicrosoft.com")),
        status=400,
    ),
    Visit("activity-empty", "activity", "/activity/"),
    Visit("provisioning-log-empty", "provisioning_log", "/activity/provisioning/"),
    Visit(
        "deprovision-guard-quiet",
        "integration_deprovision_guard",
        "/integrations/deprovision-guard/",
    ),
    Visit("account-owner", "account", "/account/"),
    Visit("not-found-signed-in", "404", "/users/999999/", 404),
    Visit("email-domains-empty", "integration_email_domains", "/integrations/domains/"),
    Visit(
        "email-domain-add-error",
        "integration_email_domain_add",
        then("/integrations/domains/", submit("Add domain", Domain="https://acme.test/")),
        status=400,
    ),
    Visit(
        "email-domain-added",
        "integration_email_domains",
        then("/integrations/domains/", submit("Add domain", Domain="acme.test")),
    ),
    Visit(
        "credentials-issued",
        "integration_credentials",
        then("/integrations/entra-id/", submit("Get credentials")),
    ),
]

OWNER_CONNECTED = [
    Visit("dashboard", "dashboard", "/"),
    Visit("users", "user_list", "/users/"),
    Visit("users-filtered", "user_list", "/users/?status=suspended&source=idp&sort=name"),
    Visit("users-no-match", "user_list", "/users/?q=nobody-matches-this"),
    Visit("users-page-2", "user_list", "/users/?page=2"),
    Visit(
        "users-invite-error",
        "user_list",
        then(
            "/users/",
            open_details("Invite a member"),
            submit("Send invitation", Email="{owner_email}"),
        ),
    ),
    Visit("member-idp", "member_detail", "/users/{idp_member}/"),
    Visit("member-idp-suspended", "member_detail", "/users/{suspended_member}/"),
    Visit("member-no-email", "member_detail", "/users/{no_email_member}/"),
    Visit("member-panel-invited", "member_detail", "/users/{invited_member}/"),
    Visit("member-panel-failed-invitation", "member_detail", "/users/{failed_member}/"),
    Visit("member-panel-admin", "member_detail", "/users/{admin_member}/"),
    Visit("member-self", "member_detail", "/users/{owner_member}/"),
    Visit("groups", "group_list", "/groups/"),
    Visit("group", "group_detail", "/groups/{group}/"),
    Visit("integrations-connected", "integration_list", "/integrations/"),
    Visit("entra-id-connected", "integration_detail", "/integrations/entra-id/"),
    Visit("okta-connected-elsewhere", "integration_detail", "/integrations/okta/"),
    Visit("scim-sso-elsewhere", "integration_detail", "/integrations/scim/"),
    Visit(
        "okta-sso-policy-error",
        "integration_sso_policy",
        then(
            "/integrations/okta/",
            lambda page, data: page.get_by_label("Required", exact=False).check(),
            lambda page, data: page.get_by_role("button", name="Save policy").click(),
        ),
        status=400,
    ),
    Visit("dashboard-sso-secret-expiring", "dashboard", "/"),
    Visit(
        "regenerate-confirm",
        "integration_regenerate",
        "/integrations/entra-id/credentials/regenerate/",
    ),
    Visit(
        "credentials-regenerated",
        "integration_credentials",
        then(
            "/integrations/entra-id/credentials/regenerate/",
            lambda page, data: page.get_by_label("Keep working for 24 hours").check(),
            submit("Regenerate token"),
        ),
    ),
    Visit("entra-id-two-tokens", "integration_detail", "/integrations/entra-id/"),
    Visit("revoke-confirm", "integration_revoke", "/integrations/entra-id/credentials/revoke/"),
    Visit("activity", "activity", "/activity/"),
    Visit("activity-filtered", "activity", "/activity/?actor_kind=idp&q=person"),
    Visit("provisioning-log", "provisioning_log", "/activity/provisioning/"),
    Visit("provisioning-log-errors", "provisioning_log", "/activity/provisioning/?status=4xx"),
    Visit("provisioning-log-success", "provisioning_log_entry", "/activity/provisioning/{log_ok}/"),
    Visit(
        "provisioning-log-error", "provisioning_log_entry", "/activity/provisioning/{log_error}/"
    ),
    Visit(
        "deprovision-guard-holding",
        "integration_deprovision_guard",
        "/integrations/deprovision-guard/",
    ),
    Visit("hold", "integration_deprovision_hold", "/integrations/deprovision-guard/{hold}/"),
    Visit(
        "hold-apply",
        "integration_deprovision_decide",
        "/integrations/deprovision-guard/{hold}/apply/",
    ),
    Visit(
        "hold-kept",
        "integration_deprovision_hold",
        then(
            "/integrations/deprovision-guard/{hold}/keep/",
            lambda page, data: page.get_by_role("checkbox").check(),
            submit("Keep members active"),
        ),
    ),
    Visit(
        "hold-resume",
        "integration_deprovision_decide",
        "/integrations/deprovision-guard/{hold}/resume/",
    ),
    Visit(
        "deprovision-guard-settings-error",
        "integration_deprovision_guard_settings",
        then(
            "/integrations/deprovision-guard/",
            lambda page, data: page.get_by_label("Window unit").select_option("minutes"),
            submit("Save guard settings", Window="2"),
        ),
        status=400,
    ),
    Visit(
        "deprovision-guard-off",
        "integration_deprovision_guard",
        then(
            "/integrations/deprovision-guard/",
            lambda page, data: page.get_by_role("checkbox").uncheck(),
            submit("Save guard settings"),
        ),
    ),
    Visit("dashboard-guard-off", "dashboard", "/"),
    Visit("email-domains", "integration_email_domains", "/integrations/domains/"),
    # Two-factor sign-in: set-up, the recovery codes, new ones, and the code step at sign-in.
    Visit("two-factor-setup", "two_factor_setup", "/account/two-factor/setup/"),
    Visit(
        "two-factor-setup-error",
        "two_factor_setup",
        then(
            "/account/two-factor/setup/",
            submit("Turn on two-factor sign-in", Authentication_code="000000"),
        ),
    ),
    Visit(
        "two-factor-recovery-codes",
        "two_factor_setup",
        then(
            "/account/two-factor/setup/",
            remember_manual_key,
            two_factor_code,
            submit("Turn on two-factor sign-in"),
            remember_recovery_codes,
        ),
    ),
    Visit("account-two-factor-on", "account", "/account/"),
    Visit(
        "two-factor-new-recovery-codes",
        "two_factor_recovery_codes",
        spend_recovery_code("Make new recovery codes", "Authentication code"),
    ),
    Visit(
        "two-factor-replace",
        "two_factor_setup",
        spend_recovery_code(
            "Use another authenticator app", "Code from your current app or a recovery code"
        ),
    ),
    Visit(
        "sign-in-code",
        "login_two_factor",
        then(
            sign_out,
            "/login/",
            submit("Continue", Email="{owner_email}"),
            submit("Sign in", Password=DEFAULT_PASSWORD),
        ),
    ),
    Visit(
        "sign-in-code-error",
        "login_two_factor",
        submit("Verify", Authentication_code="000000"),
    ),
]

MEMBER = [
    Visit("account-member", "account", "/account/"),
    Visit("forbidden", "403", "/users/", 403),
]

VISITS = {
    "signed out": SIGNED_OUT,
    "owner, empty organization": OWNER_EMPTY,
    "owner, connected": OWNER_CONNECTED,
    "member": MEMBER,
}


# --- The audit ------------------------------------------------------------------------------------


AXE_RUN = """async (wcag) => {
  const rules = {};
  for (const rule of axe.getRules(wcag)) rules[rule.ruleId] = {enabled: true};
  const results = await axe.run(document, {resultTypes: ["violations"], rules});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({
      target: n.target.join(" "), html: n.html, summary: n.failureSummary,
    })),
  }));
}"""

# What sticks out past the viewport, outside any element that scrolls on its own.
OVERFLOWING = """(limit) => {
  const found = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.right <= limit + 0.5 || box.width === 0) continue;
    let scroller = el.parentElement, inside = false;
    for (; scroller && scroller !== document.body; scroller = scroller.parentElement) {
      const overflow = getComputedStyle(scroller).overflowX;
      if (["auto", "scroll", "hidden"].includes(overflow)) { inside = true; break; }
    }
    if (inside && getComputedStyle(el).position !== "absolute") continue;
    const classes = typeof el.className === "string" ? el.className.trim() : "";
    const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
      + (classes ? "." + classes.split(/\\s+/).join(".") : "");
    found.push(`${name} right=${Math.round(box.right)}`);
  }
  return found.slice(0, 8);
}"""


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)

    def report(self) -> str:
        return f"{len(self.problems)} problem(s):\n\n" + "\n\n".join(self.problems)


@pytest.fixture
def page(page):
    """conftest's page, with axe-core loaded into every document it opens (sent to the browser once,
    instead of half a megabyte of script per page)."""
    page.context.add_init_script(AXE_SCRIPT)
    return page


def axe_violations(page, where: str) -> list[str]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT)
    found = []
    for violation in page.evaluate(AXE_RUN, WCAG_AA):
        nodes = "\n".join(
            f"    - {node['target']}\n      {node['html'][:240]}\n      "
            + (node["summary"] or "").replace("\n", "\n      ")
            for node in violation["nodes"][:6]
        )
        found.append(
            f"{where}: {violation['id']} ({violation['impact']}): {violation['help']}\n"
            f"    {violation['helpUrl']}\n{nodes}"
        )
    return found


def audit(page, label: str) -> list[str]:
    """Axe at desktop width, with every disclosure (<details>) opened so the forms inside are
    audited too; then no sideways scroll at 375 px. Returns what is wrong, for one report."""
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    problems = axe_violations(page, label)
    screenshot(page, f"a11y-{label}", full_page=False)
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        culprits = "\n".join(f"    - {c}" for c in page.evaluate(OVERFLOWING, PHONE["width"]))
        problems.append(f"{label} at 375px: the page is {width}px wide\n{culprits}")
    screenshot(page, f"a11y-{label}-375")
    page.set_viewport_size(DESKTOP)
    return problems


def run_visits(page, visits: list[Visit], data: dict[str, Any]) -> Findings:
    findings = Findings()
    for visit in visits:
        if isinstance(visit.go, str):
            response = page.goto(visit.go.format(**data))
            assert response is not None
            status = response.status
        else:
            status = visit.status  # a form post or a click: the page shows what it shows
            visit.go(page, data)
        page.get_by_role("heading", level=1).first.wait_for()
        path = urlparse(page.url).path
        if visit.route in ("403", "404"):
            landed = visit.route if status == int(visit.route) else f"status {status}"
        else:
            landed = resolve(path).url_name or path
            if status != visit.status:
                landed = f"{landed} with status {status}"
        assert landed == visit.route and status == visit.status, (
            f"{visit.label}: expected {visit.route} ({visit.status}), landed on {landed} ({path})"
        )
        findings.problems += audit(page, visit.label)
    return findings


# --- The data each scenario needs ---------------------------------------------------------------


def invitation_for(organization: Organization, email: str) -> tuple[Member, Invitation, str]:
    member = MemberFactory(organization=organization, email=email, full_name="Ines Invited")
    invitation = invitation_services.invitation_create(member=member, actor=Actor.system("tests"))
    return member, invitation, invitation_services.invitation_token(invitation)


def scim_user(entra: ScimClient, user_name: str, given: str, family: str, email: str | None) -> str:
    body: dict[str, Any] = {
        "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": user_name.split("@")[0],
        "userName": user_name,
        "active": True,
        "displayName": f"{given} {family}",
        "name": {"formatted": f"{given} {family}", "givenName": given, "familyName": family},
        "title": "Account executive",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"},
    }
    if email:
        body["emails"] = [{"primary": True, "type": "work", "value": email}]
    response = entra.post("/Users", body)
    assert response.status == 201, response.body
    return str(response.body["id"])


def deactivate(entra: ScimClient, scim_id: str) -> int:
    body = {
        "schemas": [PATCH],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    }
    return entra.patch(f"/Users/{scim_id}", body).status


def connect_and_provision(organization: Organization, secret: str, settings) -> dict[str, Any]:
    """What an Entra ID cycle leaves behind: staff, a group, suspensions, a held deprovisioning,
    an error in the log; plus members invited from the panel."""
    settings.DEPROVISION_GUARD_SHARE = 0.2
    settings.DEPROVISION_GUARD_MIN_MEMBERS = 10
    settings.DEPROVISION_GUARD_WINDOW_SECONDS = 3600
    entra = ScimClient(organization, secret, user_agent=ENTRA_AGENT)
    ids = [
        scim_user(entra, f"person{n:02d}@acme.onmicrosoft.com", f"Person{n:02d}", "Example",
                  f"person{n:02d}@acme.test")
        for n in range(1, 13)
    ]  # fmt: skip
    no_email = scim_user(entra, "kiosk-terminal-7", "Kiosk", "Terminal", None)
    group = entra.post("/Groups", {"schemas": [GROUP], "displayName": "Sales", "externalId": "s1"})
    assert group.status == 201
    members = [{"value": scim_id} for scim_id in ids[:8]]
    added = entra.patch(
        f"/Groups/{group.body['id']}",
        {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": members}]},
    )
    assert added.status == 204
    error = entra.post("/Users", {"schemas": [USER], "userName": ""})
    assert error.status == 400
    # Disable until the guard holds one.
    statuses = []
    for scim_id in ids[1:]:
        statuses.append(deactivate(entra, scim_id))
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429 and statuses[0] == 200, statuses
    owner = Member.objects.get(organization=organization, role=Member.Role.OWNER)
    invited, _, _ = invitation_for(organization, "ines@acme.test")
    failed, invitation, _ = invitation_for(organization, "fred@acme.test")
    invitation_services.invitation_mark_failed(invitation.pk, reason="550 5.1.1 User unknown")
    admin = AdminFactory(organization=organization, email="adam@acme.test", full_name="Adam Admin")
    email_domains_in_every_state(organization, owner, settings)
    sso_set_up(organization)
    in_org = Member.objects.filter(organization=organization)
    log = ScimRequest.objects.filter(organization=organization)
    return {
        "owner_member": owner.pk,
        "idp_member": in_org.get(scim_id=ids[0]).pk,
        "suspended_member": in_org.get(scim_id=ids[1], status=Member.Status.SUSPENDED).pk,
        "no_email_member": in_org.get(scim_id=no_email).pk,
        "invited_member": invited.pk,
        "failed_member": failed.pk,
        "admin_member": admin.pk,
        "group": organization.groups.get().pk,
        "log_ok": log.filter(status_code=201).order_by("pk")[0].pk,
        "log_error": log.get(status_code=400).pk,
        "hold": DeprovisionHold.objects.get(organization=organization).pk,
    }  # fmt: skip


def sso_set_up(organization: Organization) -> None:
    """Single sign-on through Okta, tested, optional, its secret expiring in 10 days."""
    SsoConnection.objects.create(
        organization=organization,
        provider="okta",
        issuer="https://acme.okta.example/oauth2/default",
        client_id="0oa1acme",
        client_secret_sealed=seal_secret(b"a-client-secret"),
        secret_expires_on=timezone.localdate() + timedelta(days=10),
        policy=SsoConnection.Policy.OPTIONAL,
        tested_at=timezone.now(),
        tested_by_label="owner@acme.test",
    )


def email_domains_in_every_state(organization: Organization, owner: Member, settings) -> None:
    """acme.test (added on the page) failed its check; acme-sales.test verified; acme.example
    verified by another organization first."""
    actor = Actor.for_user(owner.user)
    with loopback_dns() as dns:
        settings.DOMAIN_VERIFICATION_NAMESERVERS = dns.address
        domains.email_domain_check(
            domain=EmailDomain.objects.get(organization=organization, domain="acme.test"),
            actor=actor,
        )
        verified = domains.email_domain_add(
            organization=organization, actor=actor, domain="acme-sales.test"
        )
        dns.publish_txt(domains.record_name(verified), domains.record_value(verified))
        assert domains.email_domain_check(domain=verified, actor=actor).state == "verified"
        other = OwnerFactory()
        theirs = domains.email_domain_add(
            organization=other.organization, actor=Actor.for_user(other.user), domain="acme.example"
        )
        dns.publish_txt(domains.record_name(theirs), domains.record_value(theirs))
        domains.email_domain_check(domain=theirs, actor=Actor.system("tests"))
        domains.email_domain_add(organization=organization, actor=actor, domain="acme.example")


# --- Tests ----------------------------------------------------------------------------------------


def panel_route_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith(NOT_PANEL_PREFIXES):
                continue
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(pattern.name)

    walk(get_resolver().url_patterns, "")
    return names


def test_every_panel_route_is_audited():
    # given: every named route of the panel
    routes = panel_route_names()
    # when
    audited = {visit.route for visits in VISITS.values() for visit in visits}
    # then: each has a visit below, or a reason it renders no page
    missing = routes - audited - set(NOT_PAGES)
    assert not missing, (
        f"Routes with no accessibility audit (add a Visit or a NOT_PAGES reason): {sorted(missing)}"
    )
    assert not (audited - routes - {"403", "404"}), "Visits name routes that do not exist"
    assert not (set(NOT_PAGES) - routes), "NOT_PAGES names routes that do not exist"


def test_signed_out_pages_pass_axe_and_fit_a_phone(page, settings):
    # given: an organization with invitations in every state and a member who can sign in
    settings.REGISTRATION_RATE_LIMIT = 12
    owner = OwnerFactory(organization__name="Acme Corp", email="owner@acme.test")
    organization = owner.organization
    member = ActiveMemberFactory(organization=organization, email="mia@acme.test")
    _, _, invite_new = invitation_for(organization, "new@acme.test")
    # mia already has an account (in Acme): another organization's invitation asks for its password
    _, _, invite_existing = invitation_for(OwnerFactory().organization, "mia@acme.test")
    _, used, invite_used = invitation_for(organization, "used@acme.test")
    invitation_services.invitation_accept(invitation=used, password="a-long-and-unusual-passphrase")
    _, expired, invite_expired = invitation_for(organization, "late@acme.test")
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    _, revoked, invite_revoked = invitation_for(organization, "gone@acme.test")
    invitation_services.invitation_revoke(invitation=revoked, actor=Actor.system("tests"))
    uid = urlsafe_base64_encode(force_bytes(owner.user.pk))
    data = {
        "owner_email": owner.email,
        "member_email": member.email,
        "reset_path": f"/password-reset/{uid}/{default_token_generator.make_token(owner.user)}/",
        "invite_new": invite_new,
        "invite_existing": invite_existing,
        "invite_used": invite_used,
        "invite_expired": invite_expired,
        "invite_revoked": invite_revoked,
        "unknown_token": "0" * 64,
    }
    # when
    findings = run_visits(page, SIGNED_OUT, data)
    # then
    assert not findings.problems, findings.report()


def test_single_sign_on_sign_in_states_pass_axe_and_fit_a_phone(page):
    # given
    contoso = OrganizationFactory(name="Contoso", slug="contoso")
    fabrikam = OrganizationFactory(name="Fabrikam", slug="fabrikam")
    ActiveMemberFactory(organization=fabrikam, email="pat@example.org")
    for organization, name, policy in (
        (contoso, "contoso.com", "optional"),
        (fabrikam, "fabrikam.test", "required"),
    ):
        EmailDomain.objects.create(
            organization=organization,
            domain=name,
            token="t" * 32,
            added_by_label="Owner",
            state=EmailDomain.State.VERIFIED,
            verified_at=timezone.now(),
        )
        SsoConnection.objects.create(
            organization=organization,
            provider="entra-id",
            issuer="https://login.microsoftonline.com/tenant/v2.0",
            client_id="client",
            client_secret_sealed=seal_secret(b"secret"),
            policy=policy,
        )
    data = {
        "invite_contoso": invitation_for(contoso, "ines@contoso.com")[2],
        "invite_fabrikam": invitation_for(fabrikam, "ines@fabrikam.test")[2],
    }
    # when
    findings = run_visits(page, SSO_SIGN_IN, data)
    # then
    assert not findings.problems, findings.report()


def test_owner_pages_pass_axe_and_fit_a_phone(page, settings, monkeypatch):
    # given: an owner of a new organization (with short pages, so lists paginate)
    monkeypatch.setattr("accounts.views.PAGE_SIZE", 5)
    owner = OwnerFactory(
        organization__name="Acme Corp", email="owner@acme.test", full_name="Olga Owner"
    )
    organization = owner.organization
    sign_in(page, owner.email)
    data: dict[str, Any] = {"owner_email": owner.email}
    # when: every page before anything is connected, ending on the new credentials
    findings = run_visits(page, OWNER_EMPTY, data)
    secret = page.get_by_test_id("secret-token").inner_text()
    # and: after an identity provider's first cycles
    data |= connect_and_provision(organization, secret, settings)
    findings.problems += run_visits(page, OWNER_CONNECTED, data).problems
    # then
    assert not findings.problems, findings.report()


def test_member_pages_pass_axe_and_fit_a_phone(page):
    # given: a plain member (no admin pages; the account page only)
    member = ActiveMemberFactory(organization__name="Acme Corp", email="mia@acme.test")
    sign_in(page, member.email)
    # when
    findings = run_visits(page, MEMBER, {})
    # then
    assert not findings.problems, findings.report()
