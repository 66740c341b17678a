"""Panel pages: sign-in, the dashboard, the directory and the activity log. Thin by design."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import selectors
from accounts.forms import MemberSearchForm, SignInForm, SwitchOrganizationForm
from accounts.middleware import PanelRequest, switch_organization
from accounts.permissions import admin_required, member_required

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
    search = status = ""
    if form.is_valid():
        search, status = form.cleaned_data["q"].strip(), form.cleaned_data["status"]
    members = selectors.member_list(request.organization, search=search, status=status)
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "accounts/user_list.html",
        {"form": form, "page": page, "filtered": bool(search or status)},
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
