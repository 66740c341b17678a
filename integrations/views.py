"""Integrations pages: connect an identity provider, manage its SCIM credentials, and read the
provisioning log of every request it made."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import timedelta
from http import HTTPStatus
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import Actor
from accounts.csv_export import csv_lines, csv_response
from accounts.exceptions import InvalidInput
from accounts.middleware import PanelRequest
from accounts.models import Member
from accounts.permissions import admin_required
from integrations import deprovision_guard, domains, selectors, services, sso
from integrations.forms import (
    EmailDomainForm,
    GuardSettingsForm,
    HoldDecisionForm,
    IssueCredentialsForm,
    RevokeCredentialsForm,
    SsoConnectionForm,
    SsoPolicyForm,
)
from integrations.log_filters import ProvisioningLogFilterForm
from integrations.models import DeprovisionHold, EmailDomain, HeldDeprovisioning, ScimRequest
from integrations.providers import PROVIDERS, PROVIDERS_BY_SLUG, Provider, get_provider_or_404

NONCE_SESSION_KEY = "integration_credential_nonces"
MAX_NONCES = 10


def _new_nonce(request: PanelRequest) -> str:
    """A one-time value for the credentials form: a resubmitted form must not regenerate again."""
    nonce = secrets.token_urlsafe(16)
    nonces = [*request.session.get(NONCE_SESSION_KEY, []), nonce][-MAX_NONCES:]
    request.session[NONCE_SESSION_KEY] = nonces
    return nonce


def _consume_nonce(request: PanelRequest, nonce: str) -> bool:
    nonces = request.session.get(NONCE_SESSION_KEY, [])
    if nonce not in nonces:
        return False
    request.session[NONCE_SESSION_KEY] = [value for value in nonces if value != nonce]
    return True


def _provider_context(request: PanelRequest, provider: Provider) -> dict[str, object]:
    organization = request.organization
    status = selectors.connection_status(organization)
    current = selectors.current_token(organization)
    return {
        "provider": provider,
        "providers": PROVIDERS,
        "status": status,
        "tokens": selectors.live_tokens(organization),
        "current_token": current,
        "connected_elsewhere": current is not None and current.provider not in ("", provider.slug),
        "tenant_url": services.tenant_url(organization),
    }


@admin_required
def integration_list(request: PanelRequest) -> HttpResponse:
    organization = request.organization
    status = selectors.connection_status(organization)
    current = selectors.current_token(organization)
    cards = [
        {
            "provider": provider,
            # One endpoint serves every provider; the card of the one it was set up for shows it.
            "active": current is not None and current.provider in (provider.slug, ""),
        }
        for provider in PROVIDERS
    ]
    return render(request, "integrations/integration_list.html", {"cards": cards, "status": status})


def _sso_context(
    request: PanelRequest,
    provider: Provider,
    *,
    sso_form: SsoConnectionForm | None = None,
    policy_form: SsoPolicyForm | None = None,
) -> dict[str, object]:
    """The single sign-on card: the connection, its forms (owners only) and its warnings."""
    connection = sso.sso_connection_for(request.organization)
    is_owner = request.member.role == Member.Role.OWNER
    same_provider = connection is not None and connection.provider == provider.slug
    if is_owner and sso_form is None:
        initial = {}
        if connection is not None and same_provider:
            initial = {
                "issuer": connection.issuer,
                "client_id": connection.client_id,
                "secret_expires_on": connection.secret_expires_on,
            }
            if connection.entra_tenant_id and connection.issuer == sso.oidc.entra_issuer(
                connection.entra_tenant_id
            ):
                initial["issuer"] = connection.entra_tenant_id
        sso_form = SsoConnectionForm(
            initial=initial, provider_slug=provider.slug, has_secret=same_provider
        )
    if is_owner and policy_form is None and connection is not None:
        policy_form = SsoPolicyForm(initial={"policy": connection.policy})
    return {
        "sso": connection,
        "sso_is_owner": is_owner,
        "sso_form": sso_form,
        "sso_policy_form": policy_form,
        "sso_redirect_uri": sso.sso_redirect_uri(),
        "sso_sign_in_url": sso.sso_sign_in_url(request.organization),
        "sso_expiry": sso.sso_secret_expiry(connection),
        "sso_elsewhere": connection is not None and not same_provider,
        "sso_provider_name": (
            PROVIDERS_BY_SLUG[connection.provider].name
            if connection is not None and connection.provider in PROVIDERS_BY_SLUG
            else ""
        ),
        "sso_owner_two_factor": sso.owners_with_two_factor(request.organization).exists(),
        "sso_steps_template": f"integrations/steps/sso-{provider.slug}.html",
    }


def _detail_page(
    request: PanelRequest, provider: Provider, *, status: int = 200, **sso_forms: Any
) -> HttpResponse:
    context = _provider_context(request, provider)
    context["form"] = IssueCredentialsForm(initial={"nonce": _new_nonce(request)})
    context.update(_sso_context(request, provider, **sso_forms))
    return render(request, "integrations/integration_detail.html", context, status=status)


@never_cache
@admin_required
def integration_detail(request: PanelRequest, slug: str) -> HttpResponse:
    return _detail_page(request, get_provider_or_404(slug))


# --- Single sign-on (the admin's side; the sign-in flow is accounts/sso_views.py) ---------------


@never_cache
@sensitive_post_parameters("client_secret")
@require_POST
@admin_required
def sso_save(request: PanelRequest, slug: str) -> HttpResponse:
    provider = get_provider_or_404(slug)
    _owner_only(request, "change single sign-on")
    connection = sso.sso_connection_for(request.organization)
    form = SsoConnectionForm(
        request.POST,
        provider_slug=provider.slug,
        has_secret=connection is not None and connection.provider == provider.slug,
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            sso.sso_connection_save(
                organization=request.organization,
                by=request.member,
                provider=provider.slug,
                issuer_or_tenant=data["issuer"],
                client_id=data["client_id"],
                client_secret=data["client_secret"],
                secret_expires_on=data["secret_expires_on"],
            )
        except sso.SsoInputError as exc:
            form.add_error(exc.field, str(exc))
        except InvalidInput as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                "Single sign-on is saved and the identity provider answered. Test it before "
                "people rely on it.",
            )
            return redirect(f"{reverse('integration_detail', args=[provider.slug])}#sso-heading")
    return _detail_page(request, provider, status=HTTPStatus.BAD_REQUEST, sso_form=form)


@never_cache
@require_POST
@admin_required
def sso_policy(request: PanelRequest, slug: str) -> HttpResponse:
    provider = get_provider_or_404(slug)
    _owner_only(request, "change the single sign-on policy")
    form = SsoPolicyForm(request.POST)
    if form.is_valid():
        try:
            changed = sso.sso_policy_set(
                organization=request.organization,
                by=request.member,
                policy=form.cleaned_data["policy"],
            )
        except InvalidInput as exc:
            form.add_error("policy", str(exc))
        else:
            if changed:
                messages.success(request, "The single sign-on policy is changed.")
            return redirect(f"{reverse('integration_detail', args=[provider.slug])}#sso-heading")
    return _detail_page(request, provider, status=HTTPStatus.BAD_REQUEST, policy_form=form)


@never_cache
@require_POST
@admin_required
def sso_remove(request: PanelRequest, slug: str) -> HttpResponse:
    provider = get_provider_or_404(slug)
    _owner_only(request, "remove single sign-on")
    try:
        removed = sso.sso_connection_remove(organization=request.organization, by=request.member)
    except InvalidInput as exc:
        messages.warning(request, str(exc))
    else:
        if removed:
            messages.success(
                request, "Single sign-on is removed: people sign in with their password again."
            )
    return redirect(f"{reverse('integration_detail', args=[provider.slug])}#sso-heading")


@never_cache
@admin_required
def credentials_regenerate(request: PanelRequest, slug: str) -> HttpResponse:
    """Confirmation step before a regeneration, with the choice of an overlap window."""
    provider = get_provider_or_404(slug)
    if selectors.current_token(request.organization) is None:
        return redirect("integration_detail", slug=provider.slug)
    context = _provider_context(request, provider)
    context["form"] = IssueCredentialsForm(initial={"nonce": _new_nonce(request)})
    return render(request, "integrations/credentials_regenerate.html", context)


@never_cache
@require_POST
@admin_required
def credentials_issue(request: PanelRequest, slug: str) -> HttpResponse:
    provider = get_provider_or_404(slug)
    form = IssueCredentialsForm(request.POST)
    if not form.is_valid() or not _consume_nonce(request, form.cleaned_data["nonce"]):
        messages.warning(
            request,
            "That request was already handled, so nothing changed. Credentials are shown only "
            "once: if you did not copy the token, regenerate it.",
        )
        return redirect("integration_detail", slug=provider.slug)
    regenerating = selectors.current_token(request.organization) is not None
    if regenerating and request.POST.get("confirm") != "regenerate":
        # Only the confirmation page may replace a working token.
        return redirect("integration_regenerate", slug=provider.slug)
    issued = services.scim_token_issue(
        organization=request.organization,
        actor=Actor.for_user(request.user),
        overlap=form.overlap() if regenerating else None,
        provider=provider.slug,
    )
    # never_cache marks the response no-store: the token stays out of every cache.
    return render(
        request,
        "integrations/credentials_issued.html",
        {
            "provider": provider,
            "issued": issued,
            "regenerated": regenerating,
            "entra_tenant_url": f"{issued.tenant_url}?aadOptscim062020",
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
@admin_required
def credentials_revoke(request: PanelRequest, slug: str) -> HttpResponse:
    provider = get_provider_or_404(slug)
    if selectors.current_token(request.organization) is None:
        return redirect("integration_detail", slug=provider.slug)
    form = RevokeCredentialsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.scim_token_revoke(
            organization=request.organization, actor=Actor.for_user(request.user)
        )
        messages.success(
            request,
            "Provisioning is disconnected: every SCIM request is now refused. Get new credentials "
            "to connect again.",
        )
        return redirect("integration_detail", slug=provider.slug)
    context = _provider_context(request, provider)
    context["form"] = form
    return render(request, "integrations/credentials_revoke.html", context)


# --- Provisioning log ----------------------------------------------------------------------------

LOG_PAGE_SIZE = 50
CSV_CHUNK_SIZE = 2000
CSV_COLUMNS = [
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
CLIENT_LABELS = dict(ScimRequest.ClientKind.choices)

# What a status means for provisioning, in the words of the SCIM errors this service returns
# (RFC 7644 §3.12). Other codes fall back to the HTTP reason phrase.
STATUS_MEANINGS = {
    200: "The request succeeded.",
    201: "The member or group was created.",
    204: "The request succeeded; nothing was sent back (a removal, or a group change).",
    304: "Nothing changed since the identity provider last read it.",
    400: "The identity provider sent a value, filter or PATCH operation this service does not "
    "accept; the outcome says which.",
    401: "The bearer token was missing, wrong or revoked. If this keeps happening, get new "
    "credentials in Integrations and save them in the identity provider.",
    403: "The token is valid but not allowed to do this.",
    404: "No member or group with this id exists in your organization (it may have been removed).",
    405: "This endpoint does not support the method.",
    409: "Another member already has this userName, or another group this displayName.",
    412: "The resource changed since the identity provider read it (its ETag no longer matches).",
    413: "The request body is larger than this service accepts.",
    415: "The body was not sent as JSON (application/scim+json).",
    429: "Too many requests: the identity provider is asked to slow down and retry.",
    500: "This service failed to handle the request. Give the request id to support.",
    501: "This SCIM feature is not supported by this service.",
    503: "The service was briefly unavailable; the identity provider retries on its next cycle.",
}


def _status_meaning(code: int) -> tuple[str, str]:
    """The HTTP reason phrase and what the status means for provisioning."""
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = ""
    return phrase, STATUS_MEANINGS.get(code, "")


def _pretty_body(text: str) -> str:
    """JSON re-indented for reading; anything else (a body cut at the size limit) as stored."""
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return text


def _log_filter_form(request: PanelRequest) -> ProvisioningLogFilterForm:
    form = ProvisioningLogFilterForm(request.GET)
    form.is_valid()  # Invalid fields show their error and filter nothing.
    return form


@admin_required
def provisioning_log(request: PanelRequest) -> HttpResponse:
    form = _log_filter_form(request)
    filters = form.filters()
    requests = selectors.provisioning_log(request.organization, filters=filters)
    page = selectors.provisioning_log_page(
        requests,
        before=selectors.LogCursor.parse(request.GET.get("before")),
        after=selectors.LogCursor.parse(request.GET.get("after")),
        size=LOG_PAGE_SIZE,
    )
    # Only the empty state needs to know whether an identity provider is set up.
    empty_log = not page.entries and not filters.active
    connected = empty_log and selectors.current_token(request.organization) is not None
    return render(
        request,
        "integrations/log_list.html",
        {"form": form, "page": page, "filtered": filters.active, "connected": connected},
    )


@admin_required
def provisioning_log_entry(request: PanelRequest, entry_id: int) -> HttpResponse:
    entry = selectors.provisioning_log_entry(request.organization, entry_id)
    if entry is None:
        raise Http404("No such request in this organization's provisioning log.")
    phrase, meaning = _status_meaning(entry.status_code)
    return render(
        request,
        "integrations/log_entry.html",
        {
            "entry": entry,
            "subject": selectors.provisioning_log_subject(entry),
            "status_phrase": phrase,
            "status_meaning": meaning,
            "request_body": _pretty_body(entry.request_body),
            "response_body": _pretty_body(entry.response_body),
        },
    )


def _csv_rows(rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    for created_at, request_id, client_kind, *rest in rows:
        time = timezone.localtime(created_at).isoformat()
        yield (time, request_id, CLIENT_LABELS.get(client_kind, client_kind), *rest)


@never_cache
@admin_required
def provisioning_log_csv(request: PanelRequest) -> HttpResponseBase:
    """The filtered log as CSV, streamed: rows are read from the database in chunks while the
    response is written, so a million-row export never sits in memory."""
    form = _log_filter_form(request)
    if form.errors:
        # Export exactly what the page would show, never a silently widened set.
        return redirect(f"{reverse('provisioning_log')}?{request.GET.urlencode()}")
    organization = request.organization
    rows = (
        selectors.provisioning_log(organization, filters=form.filters())
        .values_list(
            "created_at",
            "request_id",
            "client_kind",
            "method",
            "path",
            "query",
            "status_code",
            "duration_ms",
            "resource_type",
            "resource_id",
            "outcome",
            "warning",
        )
        .iterator(chunk_size=CSV_CHUNK_SIZE)
    )
    filename = f"provisioning-log-{organization.slug}-{timezone.localdate().isoformat()}.csv"
    return csv_response(csv_lines(CSV_COLUMNS, _csv_rows(rows)), filename=filename)


# --- Mass-deprovisioning guard -------------------------------------------------------------------

# What each decision asks the admin to confirm, and what it does (integrations/deprovision_guard).
HOLD_DECISIONS: dict[str, dict[str, str]] = {
    "apply": {
        "state": DeprovisionHold.State.HOLDING,
        "label": "I checked the list: these people should lose access now.",
        "button": "Apply held changes",
    },
    "keep": {
        "state": DeprovisionHold.State.HOLDING,
        "label": "I will fix the assignment or scope of the application in the identity provider.",
        "button": "Keep members active",
    },
    "resume": {
        "state": DeprovisionHold.State.KEPT,
        "label": "The identity provider may deprovision these members again.",
        "button": "Stop keeping them active",
    },
}


def _hold_or_404(request: PanelRequest, hold_id: int) -> DeprovisionHold:
    hold = deprovision_guard.hold_for_organization(request.organization, hold_id)
    if hold is None:
        raise Http404("No such hold in this organization.")
    return hold


def _guard_page(
    request: PanelRequest, form: GuardSettingsForm | None = None, *, status: int = 200
) -> HttpResponse:
    organization = request.organization
    row = deprovision_guard.guard_settings(organization)
    policy = deprovision_guard.GuardPolicy.of(row)
    is_owner = request.member.role == Member.Role.OWNER
    if form is None and is_owner:
        form = GuardSettingsForm(initial=GuardSettingsForm.initial_for(row))
    count = deprovision_guard.window_count(organization, policy=policy)
    return render(
        request,
        "integrations/deprovision_guard.html",
        {
            "row": row,
            "policy": policy,
            "is_owner": is_owner,
            "form": form,
            "provider_name": selectors.connected_provider_name(request.organization),
            "share_percent": f"{row.share_percent.normalize():f}",
            "count": count,
            "allowed": min(count.limit, count.members),
            "per_window": deprovision_guard.describe_per_window(policy.window_seconds),
            "window_words": deprovision_guard.describe_duration(policy.window_seconds),
            "keep_words": deprovision_guard.describe_duration(policy.keep_active_seconds),
            "holding": deprovision_guard.open_hold(organization),
            "holds": deprovision_guard.recent_holds(organization),
        },
        status=status,
    )


@never_cache
@admin_required
def deprovision_guard_overview(request: PanelRequest) -> HttpResponse:
    return _guard_page(request)


@never_cache
@require_POST
@admin_required
def deprovision_guard_settings(request: PanelRequest) -> HttpResponse:
    """Owners change the organization's guard; admins see the values read-only."""
    if request.member.role != Member.Role.OWNER:
        raise PermissionDenied("Only owners can change the mass-deprovisioning guard.")
    form = GuardSettingsForm(request.POST)
    if not form.is_valid():
        return _guard_page(request, form, status=HTTPStatus.BAD_REQUEST)
    data = form.cleaned_data
    try:
        changed = deprovision_guard.deprovision_guard_policy_update(
            organization=request.organization,
            by=request.member,
            enabled=data["enabled"],
            share_percent=data["share_percent"],
            min_members=data["min_members"],
            window_seconds=data["window_seconds"],
            keep_active_seconds=data["keep_active_seconds"],
        )
    except InvalidInput as exc:
        form.add_error(None, str(exc))
        return _guard_page(request, form, status=HTTPStatus.BAD_REQUEST)
    if not changed:
        messages.info(request, "Nothing changed.")
    elif data["enabled"]:
        messages.success(
            request, "Saved. The identity provider's next request is judged by the new settings."
        )
    else:
        messages.warning(
            request,
            "The mass-deprovisioning guard is off: every suspension and removal from the "
            "identity provider is applied at once.",
        )
    return redirect("integration_deprovision_guard")


@never_cache
@admin_required
def deprovision_hold_detail(request: PanelRequest, hold_id: int) -> HttpResponse:
    hold = _hold_or_404(request, hold_id)
    changes = deprovision_guard.hold_changes(hold)
    return render(
        request,
        "integrations/deprovision_hold.html",
        {
            "hold": hold,
            "changes": changes,
            "pending": [
                c for c in changes if c.resolution == HeldDeprovisioning.Resolution.PENDING
            ],
            "keeping": hold.keeps_members_at(timezone.now()),
            "window_minutes": max(hold.window_seconds // 60, 1),
            "keep_words": deprovision_guard.describe_duration(
                deprovision_guard.guard_settings(request.organization).keep_active_seconds
            ),
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
@admin_required
def deprovision_hold_decide(request: PanelRequest, hold_id: int, decision: str) -> HttpResponse:
    """Confirmation page (GET), then the decision (POST): apply, keep or resume."""
    hold = _hold_or_404(request, hold_id)
    spec = HOLD_DECISIONS.get(decision)
    if spec is None:
        raise Http404("No such decision.")
    if hold.state != spec["state"]:
        messages.info(request, f"This hold is already {hold.get_state_display().lower()}.")
        return redirect("integration_deprovision_hold", hold_id=hold.pk)
    keep_default = deprovision_guard.guard_settings(request.organization).keep_active_seconds
    form = HoldDecisionForm(
        request.POST or None,
        label=spec["label"],
        keep_default=keep_default if decision == "keep" else None,
        describe=deprovision_guard.describe_duration,
    )
    if request.method == "POST" and form.is_valid():
        actor = Actor.for_user(request.user)
        try:
            if decision == "apply":
                report = deprovision_guard.deprovision_hold_apply(hold=hold, actor=actor)
                done = f"Applied {report.applied} held change{'s' if report.applied != 1 else ''}."
                if report.skipped:
                    done += f" {report.skipped} had already changed and were skipped."
            elif decision == "keep":
                kept = deprovision_guard.deprovision_hold_keep(
                    hold=hold, actor=actor, keep_for=form.keep_period()
                )
                done = (
                    f"Kept {kept} member{'s' if kept != 1 else ''} active. Fix the assignment "
                    "scope in the identity provider: it keeps retrying these changes."
                )
            else:
                deprovision_guard.deprovision_hold_resume(hold=hold, actor=actor)
                done = "The identity provider may deprovision these members again."
        except (deprovision_guard.HoldNotOpen, InvalidInput) as exc:
            messages.warning(request, str(exc))
        else:
            messages.success(request, done)
        return redirect("integration_deprovision_hold", hold_id=hold.pk)
    changes = deprovision_guard.hold_changes(hold)
    resolution = (
        HeldDeprovisioning.Resolution.KEPT
        if decision == "resume"
        else HeldDeprovisioning.Resolution.PENDING
    )
    return render(
        request,
        "integrations/deprovision_hold_confirm.html",
        {
            "hold": hold,
            "decision": decision,
            "button": spec["button"],
            "form": form,
            "changes": [c for c in changes if c.resolution == resolution],
            "keep_until": timezone.now() + timedelta(seconds=keep_default),
            "keep_words": deprovision_guard.describe_duration(keep_default),
        },
    )


# --- Email domains ------------------------------------------------------------------------------


def _owner_only(request: PanelRequest, doing: str) -> None:
    if request.member.role != Member.Role.OWNER:
        raise PermissionDenied(f"Only owners can {doing}.")


def _domain_or_404(request: PanelRequest, domain_id: int) -> EmailDomain:
    domain = domains.domain_for_organization(request.organization, domain_id)
    if domain is None:
        raise Http404("No such email domain in this organization.")
    return domain


def _domains_page(
    request: PanelRequest, form: EmailDomainForm | None = None, *, status: int = 200
) -> HttpResponse:
    is_owner = request.member.role == Member.Role.OWNER
    now = timezone.now()
    rows = [
        {
            "domain": domain,
            "display": domains.domain_display(domain.domain),
            "record_name": domains.record_name(domain),
            "record_value": domains.record_value(domain),
            "recheck_stopped": domains.recheck_stopped(domain, now=now),
        }
        for domain in domains.organization_domains(request.organization)
    ]
    return render(
        request,
        "integrations/email_domains.html",
        {
            "rows": rows,
            "is_owner": is_owner,
            "form": form if form is not None else (EmailDomainForm() if is_owner else None),
            "recheck_days": domains.RECHECK_FOR.days,
        },
        status=status,
    )


@never_cache
@admin_required
def email_domains(request: PanelRequest) -> HttpResponse:
    return _domains_page(request)


@never_cache
@require_POST
@admin_required
def email_domain_add(request: PanelRequest) -> HttpResponse:
    _owner_only(request, "add email domains")
    form = EmailDomainForm(request.POST)
    if form.is_valid():
        try:
            domain = domains.email_domain_add(
                organization=request.organization,
                actor=Actor.for_user(request.user),
                domain=form.cleaned_data["domain"],
            )
        except InvalidInput as exc:
            form.add_error("domain", str(exc))
        else:
            messages.success(
                request,
                f"{domains.domain_display(domain.domain)} added. Publish its TXT record at your "
                "DNS provider, then click Check now.",
            )
            return redirect("integration_email_domains")
    return _domains_page(request, form, status=HTTPStatus.BAD_REQUEST)


@never_cache
@require_POST
@admin_required
def email_domain_check(request: PanelRequest, domain_id: int) -> HttpResponse:
    domain = _domain_or_404(request, domain_id)
    _owner_only(request, "check email domains")
    name = domains.domain_display(domain.domain)
    if domain.state == EmailDomain.State.VERIFIED:
        messages.info(request, f"{name} is already verified.")
        return redirect("integration_email_domains")
    row = domains.email_domain_check(domain=domain, actor=Actor.for_user(request.user))
    if row.state == EmailDomain.State.VERIFIED:
        messages.success(request, f"{name} is verified.")
    elif not row.last_error:
        messages.info(request, f"{name} was removed meanwhile.")
    else:
        messages.warning(request, f"{name} is not verified yet: {row.last_error}")
    return redirect("integration_email_domains")


@never_cache
@require_POST
@admin_required
def email_domain_remove(request: PanelRequest, domain_id: int) -> HttpResponse:
    domain = _domain_or_404(request, domain_id)
    _owner_only(request, "remove email domains")
    domains.email_domain_remove(domain=domain, actor=Actor.for_user(request.user))
    messages.success(request, f"{domains.domain_display(domain.domain)} removed.")
    return redirect("integration_email_domains")
