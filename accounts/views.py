"""Panel pages: sign-in, the dashboard, the directory and the activity log. Thin by design."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import ratelimit, selectors
from accounts.audit import Actor
from accounts.exceptions import InvalidInput
from accounts.forms import (
    ExistingAccountForm,
    MemberSearchForm,
    RegistrationForm,
    SignInForm,
    SwitchOrganizationForm,
)
from accounts.middleware import PanelRequest, switch_organization
from accounts.models import Invitation, Member, User
from accounts.permissions import admin_required, member_required
from accounts.services import invitations as invitation_services

PAGE_SIZE = 50


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    """Reset links point at SITE_URL, never at whatever Host header the request carried."""

    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    def form_valid(self, form: Any) -> HttpResponse:
        self.extra_email_context = {"site_url": settings.SITE_URL}
        return super().form_valid(form)


@member_required
def dashboard(request: PanelRequest) -> HttpResponse:
    if not request.member.is_admin:
        return redirect("account")
    organization = request.organization
    counts = selectors.member_status_counts(organization)
    context = {
        "counts": counts,
        "invitations": selectors.invitation_counts(organization),
        "total_members": sum(v for k, v in counts.items() if k != "deleted"),
        "pending_invitations": selectors.pending_invitations(organization)[:10],
        "recent_activity": selectors.audit_log_list(organization).select_related("actor_user")[:8],
        "group_count": selectors.group_list(organization).count(),
    }
    return render(request, "accounts/dashboard.html", context)


@member_required
def account(request: PanelRequest) -> HttpResponse:
    memberships = selectors.active_memberships(request.user)
    return render(request, "accounts/account.html", {"memberships": memberships})


@require_POST
@member_required
def organization_switch(request: PanelRequest) -> HttpResponse:
    form = SwitchOrganizationForm(request.POST)
    if form.is_valid():
        member = get_object_or_404(
            selectors.active_memberships(request.user),
            pk=form.cleaned_data["member"],
        )
        switch_organization(request, member)
    return redirect("dashboard")


@admin_required
def user_list(request: PanelRequest) -> HttpResponse:
    form = MemberSearchForm(request.GET)
    search = status = invitation = ""
    if form.is_valid():
        search, status = form.cleaned_data["q"].strip(), form.cleaned_data["status"]
        invitation = form.cleaned_data["invitation"]
    members = selectors.member_list(
        request.organization, search=search, status=status, invitation=invitation
    )
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "accounts/user_list.html",
        {"form": form, "page": page, "filtered": bool(search or status or invitation)},
    )


@admin_required
def group_list(request: PanelRequest) -> HttpResponse:
    groups = selectors.group_list(request.organization)
    page = Paginator(groups, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/group_list.html", {"page": page})


@admin_required
def activity(request: PanelRequest) -> HttpResponse:
    entries = selectors.audit_log_list(request.organization).select_related("actor_user")
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/activity.html", {"page": page})


# --- Invitations: the employee's registration page and the admins' actions ----------------------


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Where the invitation email's link lands. Unusable links get one page that explains what
    happened; it never says whether an address exists."""
    client = request.META.get("REMOTE_ADDR", "")
    if not ratelimit.allow(
        f"registration:{client}",
        limit=settings.REGISTRATION_RATE_LIMIT,
        window=settings.REGISTRATION_RATE_WINDOW,
    ):
        return render(request, "accounts/invitation_rate_limited.html", status=429)
    invitation = invitation_services.invitation_for_token(token)
    problem = invitation_services.invitation_problem(invitation)
    if problem or invitation is None:
        return render(request, "accounts/invitation_invalid.html", {"problem": problem}, status=410)
    existing = User.objects.filter(email__iexact=invitation.email).exists()
    form_class = ExistingAccountForm if existing else RegistrationForm
    initial = {"full_name": invitation.member.full_name}
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        password = form.cleaned_data.get("password1") or form.cleaned_data["password"]
        try:
            user = invitation_services.invitation_accept(
                invitation=invitation,
                password=password,
                full_name=form.cleaned_data.get("full_name", ""),
            )
        except InvalidInput as exc:
            form.add_error("password" if existing else "password1", str(exc))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            switch_organization(request, invitation.member)
            messages.success(request, f"Welcome to {invitation.organization.name}.")
            return redirect("account")
    return render(
        request,
        "accounts/invitation_accept.html",
        {
            "invitation": invitation,
            "form": form,
            "existing": existing,
            "password_rules": password_validators_help_text_html(),
        },
    )


def _back_to_users(request: PanelRequest) -> HttpResponse:
    """Back to the page the action came from (only a path of this site, never another host)."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts=None) and target.startswith("/"):
        return redirect(target)
    return redirect("user_list")


@require_POST
@admin_required
def member_invite(request: PanelRequest, member_id: int) -> HttpResponse:
    """Send (or resend) a member's invitation: a new link, the previous one revoked."""
    member = get_object_or_404(Member, pk=member_id, organization=request.organization)
    try:
        invitation_services.invitation_create(member=member, actor=Actor.for_user(request.user))
    except InvalidInput as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Invitation sent to {member.email}.")
    return _back_to_users(request)


@require_POST
@admin_required
def member_invitation_revoke(request: PanelRequest, member_id: int) -> HttpResponse:
    member = get_object_or_404(Member, pk=member_id, organization=request.organization)
    invitation = member.invitations.filter(status__in=Invitation.OPEN_STATUSES).first()
    if invitation is not None and invitation_services.invitation_revoke(
        invitation=invitation, actor=Actor.for_user(request.user)
    ):
        messages.success(request, f"The invitation to {invitation.email} no longer works.")
    else:
        messages.info(request, "There was no open invitation to revoke.")
    return _back_to_users(request)
