from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts.models import Member, User
from accounts.selectors import active_memberships


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
    }

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        if not active_memberships(user).exists():
            raise ValidationError(self.error_messages["no_organization"], code="no_organization")


class SwitchOrganizationForm(forms.Form):
    member = forms.IntegerField(widget=forms.HiddenInput)


class MemberSearchForm(forms.Form):
    label_suffix = ""

    q = forms.CharField(required=False, max_length=200, label="Search")
    status = forms.ChoiceField(
        required=False, label="Status", choices=[("", "All but deleted"), *Member.Status.choices]
    )
