"""Two-factor sign-in pages: the code step of sign-in, set-up, recovery codes, turning it off, and
the organization's rule. Thin: the checks and writes are in `accounts.services.twofactor`.

Between the password and the code the session holds only the pending user's id (with when the
password was accepted and the password hash it was checked against); it is not authenticated
until `login()` runs after the code, so no panel page, and nothing else Django guards with
`request.user`, is reachable with the password alone.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from accounts import session_scope
from accounts import twofactor as tf
from accounts.exceptions import AccountsError
from accounts.forms import OrganizationSecurityForm, TwoFactorCodeForm
from accounts.middleware import PanelRequest, mark_two_factor_verified, switch_organization
from accounts.models import Organization, User
from accounts.permissions import member_required
from accounts.selectors import active_memberships
from accounts.services import twofactor as services

PENDING_KEY = "two_factor_pending"
# Seconds between the password and the code before the password has to be entered again.
PENDING_SECONDS = 5 * 60
PROOF_NEEDED = (
    "Sign in with your password to change two-factor sign-in: it protects your account in every "
    "organization, and this session signed in through one organization's identity provider."
)


def _client(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def begin_pending_sign_in(
    request: HttpRequest,
    *,
    user: User,
    backend: str,
    redirect_to: str,
    organization: Organization | None = None,
) -> HttpResponse:
    """Password (or, with `organization`, that organization's single sign-on) accepted for an
    account with two-factor sign-in: remember who, ask for the code. After a single sign-on the
    code opens that organization only, as the sign-in itself would have."""
    # A new session key, so a session id planted before the password step is worth nothing.
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "at": int(time.time()),
        "hash": user.get_session_auth_hash(),
        "backend": backend,
        "next": redirect_to,
        "sso_organization": organization.pk if organization is not None else None,
    }
    return redirect("login_two_factor")


def _pending_user(request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user_id = pending.get("user")
    if not isinstance(user_id, int):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    # A password changed (or reset) since the first step voids it.
    if user is None or not constant_time_compare(
        pending.get("hash", ""), user.get_session_auth_hash()
    ):
        return None
    if not active_memberships(user).exists():
        return None
    return user, pending


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_two_factor(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    found = _pending_user(request)
    if found is None:
        request.session.pop(PENDING_KEY, None)
        messages.info(request, "Sign in with your email and password first.")
        return redirect("login")
    user, pending = found
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            check = services.two_factor_check(
                user=user, code=form.cleaned_data["code"], client=_client(request)
            )
        except AccountsError as exc:
            form.add_error("code", str(exc))
        else:
            request.session.pop(PENDING_KEY, None)
            sso_organization = pending.get("sso_organization")
            sso_member = (
                active_memberships(user).filter(organization_id=sso_organization).first()
                if sso_organization
                else None
            )
            if sso_organization and sso_member is None:
                # The membership ended between the provider and the code: nothing opens.
                messages.info(request, "Sign in again.")
                return redirect("login")
            login(request, user, backend=pending["backend"])
            if sso_member is not None:
                # A code after a single sign-on opens that organization only.
                session_scope.grant(request, sso_member.organization, "sso")
                switch_organization(request, sso_member)
            else:
                session_scope.grant_password(request, active_memberships(user))
            mark_two_factor_verified(request, check.confirmed_at)
            if check.method == "recovery":
                messages.warning(
                    request,
                    f"You signed in with a recovery code; {check.recovery_codes_left} left. "
                    "Make new ones on your account page if you are running low.",
                )
            return redirect(pending["next"] or settings.LOGIN_REDIRECT_URL)
    return render(request, "registration/login_two_factor.html", {"form": form})


@sensitive_variables("key")
@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
@member_required
def two_factor_setup(request: PanelRequest) -> HttpResponse:
    if not session_scope.proves_account(request, active_memberships(request.user)):
        return render(request, "accounts/two_factor_needs_password.html", status=403)
    try:
        key = services.two_factor_enrollment_start(user=request.user)
    except AccountsError:
        return redirect("account")
    form = TwoFactorCodeForm(request.POST or None, allow_recovery=False)
    if request.method == "POST" and form.is_valid():
        try:
            enrollment = services.two_factor_enrollment_confirm(
                user=request.user, code=form.cleaned_data["code"], client=_client(request)
            )
        except AccountsError as exc:
            form.add_error("code", str(exc))
        else:
            mark_two_factor_verified(request, enrollment.confirmed_at)
            messages.success(request, "Two-factor sign-in is on.")
            return _show_recovery_codes(request, enrollment.recovery_codes)
    base32 = tf.secret_to_base32(key)
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            "qr_code": tf.qr_code_svg(tf.provisioning_uri(key, account=request.user.email)),
            "manual_key": tf.grouped(base32),
            "replacing": tf.is_enabled(request.user),
            "required_by": services.organizations_requiring_two_factor(request.user),
        },
    )


def _show_recovery_codes(request: PanelRequest, codes: list[str]) -> HttpResponse:
    # Rendered straight from the POST, never stored: the codes exist only in this response (its
    # view is never_cache, so no browser or proxy keeps it either).
    return render(request, "accounts/two_factor_recovery_codes.html", {"codes": codes})


def _code_from(request: PanelRequest) -> str:
    form = TwoFactorCodeForm(request.POST)
    return form.cleaned_data["code"] if form.is_valid() else ""


@sensitive_post_parameters("code")
@require_POST
@member_required
def two_factor_replace(request: PanelRequest) -> HttpResponse:
    if not session_scope.proves_account(request, active_memberships(request.user)):
        messages.error(request, PROOF_NEEDED)
        return redirect("account")
    try:
        services.two_factor_replacement_start(
            user=request.user, code=_code_from(request), client=_client(request)
        )
    except AccountsError as exc:
        messages.error(request, str(exc))
        return redirect("account")
    return redirect("two_factor_setup")


@sensitive_post_parameters("code")
@never_cache
@require_POST
@member_required
def two_factor_recovery_codes(request: PanelRequest) -> HttpResponse:
    if not session_scope.proves_account(request, active_memberships(request.user)):
        messages.error(request, PROOF_NEEDED)
        return redirect("account")
    try:
        codes = services.two_factor_recovery_codes_regenerate(
            user=request.user, code=_code_from(request), client=_client(request)
        )
    except AccountsError as exc:
        messages.error(request, str(exc))
        return redirect("account")
    messages.success(request, "New recovery codes made. The old ones no longer work.")
    return _show_recovery_codes(request, codes)


@sensitive_post_parameters("code")
@require_POST
@member_required
def two_factor_disable(request: PanelRequest) -> HttpResponse:
    if not session_scope.proves_account(request, active_memberships(request.user)):
        messages.error(request, PROOF_NEEDED)
        return redirect("account")
    try:
        services.two_factor_disable(
            user=request.user, code=_code_from(request), client=_client(request)
        )
    except AccountsError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Two-factor sign-in is off.")
    return redirect("account")


@require_POST
@member_required
def organization_security(request: PanelRequest) -> HttpResponse:
    form = OrganizationSecurityForm(request.POST)
    if form.is_valid():
        required = form.cleaned_data["require_two_factor"]
        try:
            changed = services.organization_require_two_factor(
                organization=request.organization, required=required, by=request.member
            )
        except AccountsError as exc:
            messages.error(request, str(exc))
        else:
            if changed and required:
                messages.success(
                    request,
                    "Owners and admins now need two-factor sign-in. Those without it are asked "
                    "to set it up at their next page.",
                )
            elif changed:
                messages.success(request, "Two-factor sign-in is now optional.")
    return redirect("account")
