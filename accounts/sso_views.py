"""Single sign-on pages: an organization's sign-in address, the one redirect URI, and the admin's
"Test single sign-on". Thin: the protocol is integrations/oidc.py, who the identity is and what it
may open is accounts/services/sso.py.

Between the redirect to the provider and the callback the session holds the pending sign-ins
keyed by their `state` (several tabs may be signing in at once; the newest few are kept), each
with its purpose (sign_in, invitation, test) and its organization. The callback finds its entry by
the state it carries, so a callback replayed in another browser finds nothing, and the
organization it opens is the one the flow started for, never one the provider names.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import session_scope
from accounts.middleware import (
    SESSION_TWO_FACTOR,
    PanelRequest,
    mark_sso_mfa,
    mark_two_factor_verified,
    switch_organization,
)
from accounts.models import Invitation, Member, Organization, TwoFactorDevice, User
from accounts.permissions import member_required
from accounts.selectors import active_memberships
from accounts.services import invitations as invitation_services
from accounts.services import sso as services
from accounts.views_twofactor import begin_pending_sign_in
from integrations.models import SsoConnection
from integrations.oidc import (
    PendingSignIn,
    SsoError,
    SsoIdentity,
    sign_in_finish,
    sign_in_start,
)
from integrations.providers import PROVIDERS_BY_SLUG
from integrations.sso import sso_client_config

logger = logging.getLogger(__name__)

PENDING_KEY = "sso_pending"
# Sign-ins a browser may have in flight at once (tabs); older ones are dropped.
MAX_PENDING = 5
# Seconds a person has at the provider before the sign-in has to start again.
PENDING_SECONDS = 10 * 60
BACKEND = "django.contrib.auth.backends.ModelBackend"


# --- Pending sign-ins in the session -------------------------------------------------------------


def _remember(request: HttpRequest, pending: PendingSignIn, **entry: Any) -> None:
    now = int(time.time())
    stored = request.session.get(PENDING_KEY)
    flows = dict(stored) if isinstance(stored, dict) else {}
    flows = {
        state: flow
        for state, flow in flows.items()
        if isinstance(flow, dict) and now - int(flow.get("at", 0)) <= PENDING_SECONDS
    }
    flows[pending.state] = {"pending": pending.to_session(), "at": now, **entry}
    newest = sorted(flows.items(), key=lambda item: item[1]["at"])[-MAX_PENDING:]
    request.session[PENDING_KEY] = dict(newest)


def _take(request: HttpRequest, state: str) -> dict[str, Any] | None:
    """The pending sign-in this callback's state names, removed so it cannot be used twice."""
    stored = request.session.get(PENDING_KEY)
    if not state or not isinstance(stored, dict) or state not in stored:
        return None
    flows = dict(stored)
    flow = flows.pop(state)
    request.session[PENDING_KEY] = flows
    if not isinstance(flow, dict) or time.time() - int(flow.get("at", 0)) > PENDING_SECONDS:
        return None
    return flow


# --- Pages ---------------------------------------------------------------------------------------


def _provider_name(connection: SsoConnection | None) -> str:
    provider = PROVIDERS_BY_SLUG.get(connection.provider) if connection else None
    return provider.name if provider is not None and provider.slug != "scim" else ""


def _refused(
    request: HttpRequest,
    reason: str,
    *,
    organization: Organization | None = None,
    connection: SsoConnection | None = None,
    address: str = "",
    status: int = 403,
) -> HttpResponse:
    return render(
        request,
        "registration/sso_refused.html",
        {
            "reason": reason,
            "organization": organization,
            "provider_name": _provider_name(connection) or "your identity provider",
            "address": address,
        },
        status=status,
    )


def _not_set_up(request: HttpRequest) -> HttpResponse:
    # The same page for an unknown organization and one without SSO: the address reveals nothing.
    return _refused(request, services.Refusal.NOT_SET_UP, status=404)


@never_cache
@require_GET
def sso_start(request: HttpRequest, organization: str) -> HttpResponse:
    """The organization's own sign-in address: starts the flow at its identity provider.

    Bookmarks, the provider's app launcher and IdP-initiated sign-in land here. `?invitation=`
    carries an invitation link's token, so the sign-in also finishes that registration.
    """
    org = Organization.objects.filter(slug=organization).first()
    connection = services.sso_connection_for_sign_in(org) if org is not None else None
    if org is None or connection is None:
        return _not_set_up(request)
    token = request.GET.get("invitation", "")
    invitation: Invitation | None = None
    if token:
        invitation = invitation_services.invitation_for_token(token)
        problem = invitation_services.invitation_problem(invitation)
        if invitation is not None and invitation.organization_id != org.pk:
            invitation, problem = None, "unknown"
        if problem:
            return render(
                request, "accounts/invitation_invalid.html", {"problem": problem}, status=410
            )
    elif request.user.is_authenticated:
        # Already proved to this organization in this session: no round trip to the provider.
        proved = session_scope.scoped(request, active_memberships(request.user))
        member = proved.filter(organization=org).first()
        if member is not None:
            switch_organization(request, member)
            return redirect(settings.LOGIN_REDIRECT_URL)
    try:
        started = sign_in_start(sso_client_config(connection))
    except SsoError as error:
        services.sso_sign_in_refused(
            organization=org, reason=services.Refusal.PROTOCOL, detail=str(error)
        )
        return _refused(
            request,
            services.Refusal.PROTOCOL,
            organization=org,
            connection=connection,
            status=502,
        )
    purpose = "invitation" if invitation is not None else "sign_in"
    _remember(request, started.pending, purpose=purpose, organization=org.pk, invitation=token)
    return redirect(started.url)


@require_POST
@member_required
def sso_test(request: PanelRequest, organization: str) -> HttpResponse:
    """An owner or admin runs the real flow for themselves; nothing is enabled or linked."""
    if request.organization.slug != organization:
        raise Http404
    if not request.member.is_admin:
        return render(request, "403.html", status=403)
    connection = SsoConnection.objects.filter(organization=request.organization).first()
    if connection is None:
        messages.error(request, "Save the single sign-on settings before testing them.")
        return redirect("integration_list")
    try:
        started = sign_in_start(sso_client_config(connection))
    except SsoError as error:
        result = services.sso_test_record(
            connection=connection, by=request.member, identity=None, error=str(error)
        )
        return _test_page(request, connection, result)
    _remember(
        request,
        started.pending,
        purpose="test",
        organization=request.organization.pk,
        member=request.member.pk,
    )
    provider_name = _provider_name(connection) or "the identity provider"
    return continue_page(
        request,
        url=started.url,
        provider_name=provider_name,
        heading=f"Signing you in at {provider_name}",
        lead=f"Your browser continues to {provider_name} now. Sign in there; you come back "
        "here to see what it sent.",
    )


def continue_page(
    request: HttpRequest, *, url: str, provider_name: str, heading: str, lead: str
) -> HttpResponse:
    """A page that sends the browser on to `url` at once, for an answer to a form post.

    Not a redirect: browsers enforce the panel's CSP `form-action 'self'` on every hop after a
    form submission, so a POST answered with a redirect that ends at the identity provider is
    blocked. A `Refresh` is a new navigation; the link is there should it not happen.
    """
    response = render(
        request,
        "accounts/sso_continue.html",
        {"url": url, "provider_name": provider_name, "heading": heading, "lead": lead},
    )
    response["Refresh"] = f"0;url={url}"
    return response


def _test_page(
    request: HttpRequest, connection: SsoConnection, result: services.TestResult
) -> HttpResponse:
    identity = result.identity
    claims = (
        [
            ("Issuer (iss)", identity.issuer),
            ("Subject (sub)", identity.subject),
            ("Tenant (tid)", identity.tenant_id or ""),
            ("Object id (oid)", identity.object_id or ""),
            ("preferred_username", identity.preferred_username or ""),
            ("email", identity.email or ""),
            ("email_verified", "" if identity.email_verified is None else identity.email_verified),
            ("name", identity.name or ""),
            ("Methods (amr)", ", ".join(identity.amr)),
            ("Stable id kept for the link", identity.link_key),
        ]
        if identity is not None
        else []
    )
    return render(
        request,
        "accounts/sso_test_result.html",
        {
            "section": "integration_list",
            "connection": connection,
            "provider_name": _provider_name(connection) or "the identity provider",
            "result": result,
            "claims": claims,
        },
        status=200 if result.ok else 502,
    )


@never_cache
@require_GET
def sso_callback(request: HttpRequest) -> HttpResponse:
    """The one redirect URI registered at every provider."""
    flow = _take(request, request.GET.get("state", ""))
    if flow is None:
        logger.warning("SSO callback with no pending sign-in in this browser session")
        return _refused(request, "state", status=400)
    org = Organization.objects.filter(pk=int(flow.get("organization") or 0)).first()
    connection = SsoConnection.objects.filter(organization=org).first() if org is not None else None
    if org is None or connection is None:
        return _not_set_up(request)
    purpose = flow.get("purpose")
    if purpose == "test":
        return _finish_test(request, connection, flow)
    if connection.policy == SsoConnection.Policy.OFF:
        return _not_set_up(request)
    try:
        identity = sign_in_finish(
            sso_client_config(connection),
            pending=PendingSignIn.from_session(flow["pending"]),
            callback_params=request.GET.dict(),
        )
    except SsoError as error:
        services.sso_sign_in_refused(
            organization=org, reason=services.Refusal.PROTOCOL, detail=str(error)
        )
        return _refused(
            request, services.Refusal.PROTOCOL, organization=org, connection=connection, status=400
        )
    invitation = (
        invitation_services.invitation_for_token(flow.get("invitation") or "")
        if purpose == "invitation"
        else None
    )
    signed_in = request.user if isinstance(request.user, User) else None
    try:
        result = services.sso_sign_in(
            organization=org,
            connection=connection,
            identity=identity,
            signed_in_user=signed_in,
            invitation=invitation,
        )
    except services.SsoRefused as refused:
        services.sso_sign_in_refused(
            organization=org,
            reason=refused.reason,
            identity=identity,
            member=refused.member,
            detail=refused.detail,
        )
        return _refused(
            request,
            refused.reason,
            organization=org,
            connection=connection,
            address=refused.detail if refused.reason == services.Refusal.EXISTING_ACCOUNT else "",
        )
    return _open_session(request, result, org)


def _open_session(
    request: HttpRequest, result: services.SignIn, organization: Organization
) -> HttpResponse:
    """Signs the person in to `organization` only, with the two-factor rule applied.

    `amr` containing `mfa` satisfies two-factor sign-in (the provider did it). Otherwise an
    account with two-factor sign-in gets the panel's code step, which then opens this
    organization only.
    """
    user = result.user
    confirmed_at = (
        TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=False)
        .values_list("confirmed_at", flat=True)
        .first()
    )
    same_person = request.user.is_authenticated and request.user.pk == user.pk
    code_already_given = (
        same_person
        and confirmed_at is not None
        and request.session.get(SESSION_TWO_FACTOR) == confirmed_at.isoformat()
    )
    if confirmed_at is not None and not result.mfa and not code_already_given:
        if request.user.is_authenticated:
            logout(request)
        return begin_pending_sign_in(
            request,
            user=user,
            backend=BACKEND,
            redirect_to=settings.LOGIN_REDIRECT_URL,
            organization=organization,
        )
    login(request, user, backend=BACKEND)
    session_scope.grant(request, organization, "sso")
    switch_organization(request, result.member)
    if result.mfa:
        mark_sso_mfa(request, organization)
        if confirmed_at is not None:
            mark_two_factor_verified(request, confirmed_at)
    if result.registered:
        messages.success(request, f"Welcome to {organization.name}. Your account is ready.")
    return redirect(settings.LOGIN_REDIRECT_URL)


def _finish_test(
    request: HttpRequest, connection: SsoConnection, flow: dict[str, Any]
) -> HttpResponse:
    admin = (
        Member.objects.filter(pk=int(flow.get("member") or 0), organization=connection.organization)
        .select_related("organization", "user")
        .first()
    )
    user = request.user if isinstance(request.user, User) else None
    proved = session_scope.scoped(request, active_memberships(user)) if user is not None else None
    if (
        admin is None
        or user is None
        or admin.user_id != user.pk
        or not admin.is_admin
        or proved is None
        or not proved.filter(pk=admin.pk).exists()
    ):
        return _refused(request, "state", status=400)
    switch_organization(request, admin)
    request.member = admin  # type: ignore[attr-defined]
    request.organization = admin.organization  # type: ignore[attr-defined]
    identity: SsoIdentity | None = None
    error = ""
    try:
        identity = sign_in_finish(
            sso_client_config(connection),
            pending=PendingSignIn.from_session(flow["pending"]),
            callback_params=request.GET.dict(),
        )
    except SsoError as failure:
        error = str(failure)
    result = services.sso_test_record(
        connection=connection, by=admin, identity=identity, error=error
    )
    return _test_page(request, connection, result)
