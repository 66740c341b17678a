"""View decorators: who may see which page of the panel."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect

View = Callable[..., HttpResponseBase]


def member_required(view: View) -> View:
    """Signed in, with an active membership of some organization."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.member is None:  # type: ignore[attr-defined]
            # Suspended or removed while signed in, or every organization this session opened
            # now requires single sign-on: end the session and say why instead of a dead end.
            reason = _closed_reason(request.user)
            logout(request)
            messages.error(request, reason)
            return redirect("login")
        return view(request, *args, **kwargs)

    return wrapped


def _closed_reason(user: Any) -> str:
    from accounts.selectors import active_memberships
    from accounts.session_scope import password_allowed
    from accounts.sso_routing import password_refusal

    memberships = active_memberships(user)
    if not memberships.exists():
        return "Your account is not active in any organization. Contact your administrator."
    if password_allowed(memberships).exists():
        return "Sign in again to continue."
    return password_refusal([member.organization for member in memberships])[0]


def admin_required(view: View) -> View:
    """An owner or admin of the current organization; anyone else signed in gets 403."""

    @member_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.member.is_admin:  # type: ignore[attr-defined]
            raise PermissionDenied("Only owners and admins can open this page.")
        return view(request, *args, **kwargs)

    return wrapped
