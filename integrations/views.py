"""Integrations pages: connect an identity provider and manage its SCIM credentials."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import Actor
from accounts.middleware import PanelRequest
from accounts.permissions import admin_required
from integrations import selectors, services
from integrations.forms import IssueCredentialsForm, RevokeCredentialsForm
from integrations.providers import PROVIDERS, Provider, get_provider_or_404

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


@never_cache
@admin_required
def integration_detail(request: PanelRequest, slug: str) -> HttpResponse:
    provider = get_provider_or_404(slug)
    context = _provider_context(request, provider)
    context["form"] = IssueCredentialsForm(initial={"nonce": _new_nonce(request)})
    return render(request, "integrations/integration_detail.html", context)


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
