from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts import ratelimit, session_scope
from accounts.models import Group, Member, User
from accounts.selectors import INVITATION_FILTERS, active_memberships


class SignInForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an account.",
        "no_organization": (
            "Your account is not active in any organization. Contact your administrator."
        ),
        "throttled": "Too many failed sign-in attempts. Wait a few minutes and try again.",
    }

    def clean(self) -> dict[str, Any]:
        """Brute-force protection: failed attempts are counted per address and account, and
        per address alone; past the limit no password is even checked until the window ends."""
        client = (self.request.META.get("REMOTE_ADDR", "") if self.request else "") or "unknown"
        account = str(self.data.get("username", "")).strip().lower()[:254]
        keys = {
            f"signin:{client}:{account}": settings.SIGNIN_FAILURE_LIMIT,
            f"signin:{client}": settings.SIGNIN_FAILURE_LIMIT_PER_ADDRESS,
        }
        if any(ratelimit.failures(key) >= limit for key, limit in keys.items()):
            raise ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            return super().clean()
        except ValidationError as error:
            if getattr(error, "code", None) == "invalid_login":
                for key in keys:
                    ratelimit.record_failure(key, window=settings.SIGNIN_FAILURE_WINDOW)
            raise

    # Set when the password was right but opens nothing: where the person signs in instead.
    sso_routes: list[Any] = []

    def confirm_login_allowed(self, user: User) -> None:
        """A right password that opens no organization (each requires single sign-on from this
        person, who is an owner nowhere) says where to sign in instead of opening an empty panel.
        Only said after the password was right, so it reveals nothing about other addresses."""
        super().confirm_login_allowed(user)
        memberships = active_memberships(user)
        if not memberships.exists():
            raise ValidationError(self.error_messages["no_organization"], code="no_organization")
        if not session_scope.password_allowed(memberships).exists():
            from accounts.sso_routing import password_refusal

            message, self.sso_routes = password_refusal([m.organization for m in memberships])
            raise ValidationError(message, code="sso_required")


class SignInEmailForm(forms.Form):
    """The sign-in page's first step: the address alone, whose domain decides what comes next."""

    username = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"}),
        error_messages={
            "required": "Enter your email address.",
            "invalid": "Enter a valid email address, such as name@example.com.",
        },
    )


class SsoShortNameForm(forms.Form):
    """ "Use single sign-on": the organization's short name, as in its sign-in address."""

    organization = forms.CharField(
        label="Organization short name",
        max_length=60,
        help_text="As in its sign-in address, for example contoso in /sso/contoso/. "
        "Your administrator can tell you.",
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocapitalize": "none", "spellcheck": "false"}
        ),
        error_messages={"required": "Enter your organization's short name."},
    )


class SwitchOrganizationForm(forms.Form):
    member = forms.IntegerField(widget=forms.HiddenInput)


class MemberSearchForm(forms.Form):
    invitation = forms.ChoiceField(
        required=False,
        label="Invitation",
        choices=[("", "Any"), *INVITATION_FILTERS],
    )
    q = forms.CharField(required=False, max_length=200, label="Search")
    status = forms.ChoiceField(
        required=False, label="Status", choices=[("", "All but deleted"), *Member.Status.choices]
    )
    source = forms.ChoiceField(
        required=False,
        label="Managed by",
        choices=[("", "Anyone"), ("idp", "Identity provider"), ("panel", "Admin panel")],
    )
    group = forms.TypedChoiceField(required=False, label="Group", coerce=int, empty_value=None)
    sort = forms.ChoiceField(
        required=False,
        label="Sort by",
        choices=[
            ("name", "Name (A to Z)"),
            ("-name", "Name (Z to A)"),
            ("status", "Status"),
            ("-added", "Newest first"),
            ("added", "Oldest first"),
        ],
    )

    def __init__(self, *args: Any, groups: Iterable[Group] = (), **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [("", "Any group")] + [  # type: ignore[attr-defined]
            (group.pk, group.display_name) for group in groups
        ]


class AuditFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    actor_kind = forms.ChoiceField(
        required=False,
        label="Actor",
        choices=[
            ("", "Anyone"),
            ("user", "Admins"),
            ("idp", "Identity provider"),
            ("system", "System"),
        ],
    )
    action = forms.ChoiceField(required=False, label="Change")
    since = forms.DateTimeField(
        required=False, label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        required=False, label="To", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def __init__(self, *args: Any, actions: Iterable[str] = (), **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "Any change")] + [  # type: ignore[attr-defined]
            (action, action.replace("_", " ").capitalize()) for action in actions
        ]


class InviteMemberForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=254)
    given_name = forms.CharField(label="Given name", max_length=100)
    family_name = forms.CharField(label="Family name", max_length=100)
    role = forms.ChoiceField(label="Role", choices=Member.Role.choices, initial=Member.Role.MEMBER)


class NameForm(forms.Form):
    """A person's own name, in the two parts identity providers match people by."""

    given_name = forms.CharField(
        label="Given name",
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    family_name = forms.CharField(
        label="Family name",
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Member.Role.choices)


class AdminGroupForm(forms.Form):
    grants_admin = forms.BooleanField(
        required=False, label="Members of this group are admins of the organization"
    )


class RegistrationForm(forms.Form):
    """Choose a password for the account an invitation created."""

    full_name = forms.CharField(
        label="Your name",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Repeat the password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords do not match.")
        return cleaned


class ExistingAccountForm(forms.Form):
    """The address already has an account (in another organization): prove it is yours."""

    password = forms.CharField(
        label="Your current password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class TwoFactorCodeForm(forms.Form):
    """A six-digit code from the authenticator app, or (where `allow_recovery`) a recovery code."""

    code = forms.CharField(
        label="Authentication code",
        max_length=40,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "off",
                "spellcheck": "false",
                "class": "code-input",
            }
        ),
    )

    def __init__(self, *args: Any, allow_recovery: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        widget = self.fields["code"].widget
        if allow_recovery:
            self.fields[
                "code"
            ].help_text = (
                "The 6-digit code from your authenticator app, or one of your recovery codes."
            )
        else:
            widget.attrs.update({"inputmode": "numeric", "pattern": "[0-9 ]*", "maxlength": "7"})
            self.fields["code"].help_text = "The 6-digit code your authenticator app shows now."


class OrganizationSecurityForm(forms.Form):
    require_two_factor = forms.BooleanField(
        required=False, label="Require two-factor sign-in for owners and admins"
    )
