"""Panel pages: sign-in, the dashboard, the directory and the activity log. Thin by design."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import (
    ratelimit,
    selectors,
    session_scope,
    sso_routing,
    twofactor,
    views_twofactor,
)
from accounts.audit import Actor
from accounts.csv_export import csv_lines, csv_response
from accounts.exceptions import AccountsError
from accounts.forms import (
    AdminGroupForm,
    AuditFilterForm,
    ExistingAccountForm,
    InviteMemberForm,
    MemberSearchForm,
    NameForm,
    OrganizationSecurityForm,
    RegistrationForm,
    RoleForm,
    SignInEmailForm,
    SignInForm,
    SsoShortNameForm,
    SwitchOrganizationForm,
    TwoFactorCodeForm,
)
from accounts.middleware import PanelRequest, switch_organization
from accounts.models import Invitation, Member, Organization, User
from accounts.permissions import admin_required, member_required
from accounts.services import directory, roles
from accounts.services import invitations as invitation_services
from accounts.services import twofactor as twofactor_services
from accounts.services.sso import sso_connection_for_sign_in
from accounts.sso_views import continue_page
from integrations.selectors import connection_status, recent_provisioning_problems

PAGE_SIZE = 50


class SignInView(auth_views.LoginView):
    """The sign-in page, in steps that are each a plain form submission (no JavaScript needed).

    1. The email address. Its domain alone decides what follows (accounts/sso_routing.py): the
       organization that verified it sends the person to its identity provider when single
       sign-on is required there, and offers "Continue with ..." next to the password when it is
       optional. Nothing reads whether the address has an account, so the page is the same, and
       as fast, for an address that has one and one that does not.
    2. The password (with the two-factor code after it, as before). It is always reachable, also
       for a domain that requires single sign-on: owners keep it as the break-glass way in, and a
       person who also belongs to other organizations uses it there. What a password may open is
       decided after sign-in (accounts/session_scope.py).
    "Use single sign-on" asks for the organization's short name instead of an address.
    """

    form_class = SignInForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True
    EMAIL_KEY = "sign_in_email"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        step = request.GET.get("step", "")
        if step == "email":
            request.session.pop(self.EMAIL_KEY, None)
        if step == "sso":
            return self._render("short-name", short_name_form=SsoShortNameForm())
        email = request.session.get(self.EMAIL_KEY, "") if step != "email" else ""
        route = sso_routing.route_for_email(email) if email else None
        if email and step == "password":
            return self._render("password", email=email, route=route)
        if route is not None and route.required:
            # Back from the identity provider: go there again, or use the password instead.
            return self._render("sso-required", email=email, route=route)
        return self._render("email", email_form=SignInEmailForm(initial={"username": email}))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        step = request.POST.get("step", "")
        if step == "email":
            return self._email_step()
        if step == "sso":
            return self._short_name_step()
        return super().post(request, *args, **kwargs)

    def _email_step(self) -> HttpResponse:
        form = SignInEmailForm(self.request.POST)
        if not form.is_valid():
            return self._render("email", email_form=form)
        email = form.cleaned_data["username"]
        self.request.session[self.EMAIL_KEY] = email
        route = sso_routing.route_for_email(email)
        if route is not None and route.required:
            return self._continue(route)
        return self._render("password", email=email, route=route)

    def _short_name_step(self) -> HttpResponse:
        form = SsoShortNameForm(self.request.POST)
        if form.is_valid():
            route = sso_routing.route_for_slug(form.cleaned_data["organization"])
            if route is not None:
                return self._continue(route)
            # The same words for a name nobody has and one without single sign-on.
            form.add_error(
                "organization",
                "No organization with that short name signs in with single sign-on. Check the "
                "name with your administrator, or sign in with your email address.",
            )
        return self._render("short-name", short_name_form=form)

    def _continue(self, route: sso_routing.SsoRoute) -> HttpResponse:
        """On to the organization's sign-in address and its identity provider (a page, not a
        redirect: see accounts.sso_views.continue_page)."""
        return continue_page(
            self.request,
            url=route.url,
            provider_name=route.provider_name,
            heading=f"Continue with {route.button}",
            lead=f"{route.organization.name} signs you in through {route.provider_name}. "
            "Your browser continues there now.",
        )

    def _render(self, step: str, **context: Any) -> HttpResponse:
        form = None
        if step == "password":
            form = self._focus_password(
                SignInForm(request=self.request, initial={"username": context["email"]})
            )
        return self.render_to_response(self.get_context_data(step=step, form=form, **context))

    def get_form(self, form_class: Any = None) -> Any:
        return self._focus_password(super().get_form(form_class))

    @staticmethod
    def _focus_password(form: Any) -> Any:
        """The address was given in the first step: the password field takes the focus."""
        form.fields["username"].widget.attrs.pop("autofocus", None)
        form.fields["password"].widget.attrs["autofocus"] = True
        return form

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if "step" not in context:  # the password form posted back with an error
            form = context["form"]
            email = str(form.data.get("username", ""))
            context.update(step="password", email=email, route=sso_routing.route_for_email(email))
            context["sso_routes"] = getattr(form, "sso_routes", [])
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        """The password is right. With two-factor sign-in on, the session stays anonymous and
        the code page comes next; `login()` runs only once the code is accepted."""
        self.request.session.pop(self.EMAIL_KEY, None)
        user = form.get_user()
        if not twofactor.is_enabled(user):
            response = super().form_valid(form)
            session_scope.grant_password(self.request, selectors.active_memberships(user))
            return response
        return views_twofactor.begin_pending_sign_in(
            self.request,
            user=user,
            backend=user.backend,
            redirect_to=self.get_success_url(),
        )


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
        "status": connection_status(organization),
        "recent_problems": recent_provisioning_problems(organization, limit=10),
        "total_members": sum(v for k, v in counts.items() if k != "deleted"),
        "pending_invitations": selectors.pending_invitations(organization)[:10],
        "recent_activity": selectors.audit_log_list(organization)[:8],
        "group_count": selectors.group_list(organization).count(),
    }
    return render(request, "accounts/dashboard.html", context)


@member_required
def account(request: PanelRequest) -> HttpResponse:
    memberships = selectors.active_memberships(request.user)
    device = twofactor.device_for(request.user)
    enabled = device is not None and device.is_enabled
    organization = request.organization
    return render(
        request,
        "accounts/account.html",
        {
            "memberships": memberships,
            "two_factor_enabled": enabled,
            "recovery_codes_left": twofactor_services.recovery_codes_left(device)
            if device is not None and enabled
            else 0,
            "two_factor_required_by": twofactor_services.organizations_requiring_two_factor(
                request.user
            ),
            "code_form": TwoFactorCodeForm(),
            "is_owner": request.member.role == Member.Role.OWNER,
            "security_form": OrganizationSecurityForm(
                initial={"require_two_factor": organization.require_two_factor}
            ),
            "name_form": NameForm(
                initial={
                    "given_name": request.member.given_name,
                    "family_name": request.member.family_name,
                }
            ),
            "name_managed_by": _name_managed_by(request.member),
        },
    )


def _name_managed_by(member: Member) -> str:
    """Who owns this member's name when it is not theirs to edit ("Microsoft Entra ID")."""
    if member.source != Member.Source.IDENTITY_PROVIDER:
        return ""
    from integrations.selectors import connected_provider_name

    return connected_provider_name(member.organization) or "your identity provider"


@require_POST
@member_required
def account_name(request: PanelRequest) -> HttpResponse:
    form = NameForm(request.POST)
    if not form.is_valid():
        codes = {error.code for errors in form.errors.as_data().values() for error in errors}
        messages.error(
            request,
            "Each part of your name can be at most 100 characters."
            if "max_length" in codes
            else "Enter your given name and your family name.",
        )
        return redirect("account")
    try:
        changed = directory.member_rename(
            member=request.member,
            given_name=form.cleaned_data["given_name"],
            family_name=form.cleaned_data["family_name"],
            by=request.member,
        )
    except AccountsError as exc:
        messages.error(request, str(exc))
    else:
        if changed:
            messages.success(request, f"Your name is now {request.member.full_name}.")
    return redirect("account")


@require_POST
@member_required
def organization_switch(request: PanelRequest) -> HttpResponse:
    form = SwitchOrganizationForm(request.POST)
    if form.is_valid():
        member = get_object_or_404(
            selectors.active_memberships(request.user),
            pk=form.cleaned_data["member"],
        )
        memberships = selectors.active_memberships(request.user)
        if not session_scope.scoped(request, memberships).filter(pk=member.pk).exists():
            return _prove_to(request, member.organization)
        switch_organization(request, member)
    return redirect("dashboard")


def _prove_to(request: PanelRequest, organization: Organization) -> HttpResponse:
    """This session has not proved itself to `organization` (accounts/session_scope.py): its
    single sign-on when it has one on, else a password sign-in (which opens it alongside the
    others a password opens)."""
    if sso_connection_for_sign_in(organization) is not None:
        return redirect("sso_start", organization=organization.slug)
    logout(request)
    messages.info(request, f"Sign in with your password to open {organization.name}.")
    return redirect("login")


def _idp_name(organization: Any) -> str:
    """How badges name the identity provider that manages members ("Microsoft Entra ID")."""
    from integrations.selectors import connected_provider_name

    return connected_provider_name(organization) or "identity provider"


@admin_required
def user_list(request: PanelRequest) -> HttpResponse:
    organization = request.organization
    groups = list(selectors.group_choices(organization))
    form = MemberSearchForm(request.GET, groups=groups)
    filters: dict[str, Any] = {}
    if form.is_valid():
        data = form.cleaned_data
        filters = {
            "search": data["q"].strip(),
            "status": data["status"],
            "invitation": data["invitation"],
            "source": data["source"],
            "group": next((g for g in groups if g.pk == data["group"]), None),
            "sort": data["sort"] or "name",
        }
    members = selectors.member_list(organization, **filters)
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    filtered = any(value for key, value in filters.items() if key != "sort")
    return render(
        request,
        "accounts/user_list.html",
        {
            "form": form,
            "page": page,
            "filtered": filtered,
            "invite_form": InviteMemberForm(),
            "idp_name": _idp_name(organization),
        },
    )


@require_POST
@admin_required
def member_add(request: PanelRequest) -> HttpResponse:
    form = InviteMemberForm(request.POST)
    if not form.is_valid():
        if "email" in form.errors:
            messages.error(request, "Enter a valid email address to invite someone.")
        else:
            messages.error(request, "Enter the person's given name and family name.")
        return redirect("user_list")
    try:
        member = directory.member_invite(
            organization=request.organization,
            email=form.cleaned_data["email"],
            given_name=form.cleaned_data["given_name"],
            family_name=form.cleaned_data["family_name"],
            role=form.cleaned_data["role"],
            by=request.member,
        )
    except AccountsError as exc:
        messages.error(request, str(exc))
        return redirect("user_list")
    messages.success(request, f"Invitation sent to {member.email}.")
    return redirect("member_detail", member_id=member.pk)


@admin_required
def member_detail(request: PanelRequest, member_id: int) -> HttpResponse:
    member = selectors.member_detail(request.organization, member_id)
    if member is None:
        raise Http404("No such member.")
    return render(
        request,
        "accounts/member_detail.html",
        {
            "member": member,
            "groups": selectors.member_groups(member),
            "invitations": member.invitations.all()[:20],
            "history": selectors.member_audit_history(member)[:50],
            "attributes_json": json.dumps(member.scim_attributes, indent=2, ensure_ascii=False),
            "role_form": RoleForm(initial={"role": member.role}),
            "is_last_owner": roles.is_last_owner(member),
            "idp_name": _idp_name(request.organization),
        },
    )


MEMBER_ACTIONS = {
    "suspend": (directory.member_suspend, "{} is suspended: they can no longer sign in."),
    "reactivate": (directory.member_reactivate, "{} is active again."),
    "remove": (directory.member_remove_from_panel, "{} was removed."),
}


@require_POST
@admin_required
def member_action(request: PanelRequest, member_id: int, action: str) -> HttpResponse:
    member = selectors.member_detail(request.organization, member_id)
    if member is None or action not in MEMBER_ACTIONS:
        raise Http404("No such member.")
    service, message = MEMBER_ACTIONS[action]
    try:
        service(member=member, by=request.member)
    except AccountsError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, message.format(member.label))
    if action == "remove" and member.status == Member.Status.DELETED:
        return redirect("user_list")
    return redirect("member_detail", member_id=member.pk)


@require_POST
@admin_required
def member_role(request: PanelRequest, member_id: int) -> HttpResponse:
    member = selectors.member_detail(request.organization, member_id)
    if member is None:
        raise Http404("No such member.")
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            changed = roles.member_change_role(
                member=member, role=form.cleaned_data["role"], by=request.member
            )
        except AccountsError as exc:
            messages.error(request, str(exc))
        else:
            if changed:
                messages.success(request, f"{member.label} is now {member.get_role_display()}.")
    return redirect("member_detail", member_id=member.pk)


@admin_required
def group_list(request: PanelRequest) -> HttpResponse:
    groups = selectors.group_list(request.organization)
    page = Paginator(groups, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "accounts/group_list.html",
        {"page": page, "admin_group_id": request.organization.admin_group_id},
    )


@admin_required
def group_detail(request: PanelRequest, group_id: int) -> HttpResponse:
    group = selectors.group_detail(request.organization, group_id)
    if group is None:
        raise Http404("No such group.")
    members = Paginator(selectors.group_members(group), PAGE_SIZE).get_page(request.GET.get("page"))
    is_admin_group = request.organization.admin_group_id == group.pk
    return render(
        request,
        "accounts/group_detail.html",
        {
            "group": group,
            "page": members,
            "is_admin_group": is_admin_group,
            "admin_form": AdminGroupForm(initial={"grants_admin": is_admin_group}),
            "idp_name": _idp_name(request.organization),
        },
    )


@require_POST
@admin_required
def group_admin_mapping(request: PanelRequest, group_id: int) -> HttpResponse:
    group = selectors.group_detail(request.organization, group_id)
    if group is None:
        raise Http404("No such group.")
    form = AdminGroupForm(request.POST)
    grants = form.is_valid() and form.cleaned_data["grants_admin"]
    try:
        if grants:
            roles.organization_set_admin_group(
                organization=request.organization, group=group, by=request.member
            )
            messages.success(request, f"Members of {group.display_name} are now admins.")
        elif request.organization.admin_group_id == group.pk:
            roles.organization_set_admin_group(
                organization=request.organization, group=None, by=request.member
            )
            messages.success(request, f"{group.display_name} no longer grants the admin role.")
    except AccountsError as exc:
        messages.error(request, str(exc))
    return redirect("group_detail", group_id=group.pk)


@admin_required
def activity(request: PanelRequest) -> HttpResponse:
    form, entries = _audit_entries(request)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    filtered = form.is_valid() and any(form.cleaned_data.values())
    return render(
        request, "accounts/activity.html", {"page": page, "form": form, "filtered": filtered}
    )


def _audit_entries(request: PanelRequest) -> tuple[AuditFilterForm, Any]:
    organization = request.organization
    form = AuditFilterForm(request.GET, actions=selectors.audit_actions(organization))
    filters: dict[str, Any] = {}
    if form.is_valid():
        data = form.cleaned_data
        filters = {
            "search": data["q"].strip(),
            "actor_kind": data["actor_kind"],
            "action": data["action"],
            "since": data["since"],
            "until": data["until"],
        }
    return form, selectors.audit_log_list(organization, **filters)


@admin_required
def activity_csv(request: PanelRequest) -> StreamingHttpResponse:
    """The filtered audit log as CSV, streamed so a long history never sits in memory."""
    _, entries = _audit_entries(request)
    header = ["time", "actor_kind", "actor", "action", "target_type", "target", "before", "after"]
    rows = (
        (
            entry.created_at.isoformat(),
            entry.actor_kind,
            entry.actor_label,
            entry.action,
            entry.target_type,
            entry.target_label,
            json.dumps(entry.before) if entry.before is not None else "",
            json.dumps(entry.after) if entry.after is not None else "",
        )
        for entry in entries.iterator(chunk_size=2000)
    )
    filename = f"audit-log-{request.organization.slug}-{timezone.now():%Y-%m-%d}.csv"
    return csv_response(csv_lines(header, rows), filename=filename)


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
    # Single sign-on on: "Continue with Microsoft" finishes the registration through the identity
    # provider (accounts/sso_views.py); when it is required, that is the only way, and no password
    # is ever set.
    route = sso_routing.route_for_organization(invitation.organization)
    sso_url = sso_routing.sso_start_url(invitation.organization.slug, invitation=token)
    password_allowed = route is None or not route.required
    if request.method == "POST" and route is not None and route.required:
        messages.error(
            request,
            f"{invitation.organization.name} signs you in through {route.provider_name}: "
            f"use Continue with {route.button}.",
        )
        return redirect("invitation_accept", token=token)
    if request.method == "POST" and form.is_valid():
        password = form.cleaned_data.get("password1") or form.cleaned_data["password"]
        try:
            user = invitation_services.invitation_accept(
                invitation=invitation,
                password=password,
                full_name=form.cleaned_data.get("full_name", ""),
            )
        except AccountsError as exc:
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
            "route": route,
            "sso_url": sso_url if route is not None else "",
            "password_allowed": password_allowed,
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
    except AccountsError as exc:
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
