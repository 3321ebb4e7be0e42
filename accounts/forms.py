from typing import Any

from django import forms

from accounts.models import User
from accounts.roles import ROLE_PERMISSIONS
from accounts.services import ALL_RESOURCES, api_scope_resources

ROLE_CHOICES = [(role, role.replace("_", " ").capitalize()) for role in ROLE_PERMISSIONS]


class UserInviteForm(forms.ModelForm):
    role = forms.ChoiceField(choices=ROLE_CHOICES)

    class Meta:
        model = User
        fields = ["email", "full_name"]

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("Someone with this email address already has an account.")
        return email


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


def scope_choices() -> list[tuple[str, str]]:
    choices = [
        (f"{ALL_RESOURCES}:read", "Read everything"),
        (f"{ALL_RESOURCES}:write", "Change everything"),
    ]
    for resource in api_scope_resources():
        label = resource.replace("-", " ").capitalize()
        choices += [
            (f"{resource}:read", f"{label}: read"),
            (f"{resource}:write", f"{label}: change"),
        ]
    return choices


class TokenIssueForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="Who or what uses it, e.g. “Xero sync” or “Reporting”."
    )
    user = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label="Acts as",
        help_text="The token can do what this person's role allows, within its scopes.",
    )
    scopes = forms.MultipleChoiceField(
        choices=[], widget=forms.CheckboxSelectMultiple, help_text="Give only what it needs."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(is_active=True).order_by(  # type: ignore[attr-defined]
            "full_name", "email"
        )
        self.fields["scopes"].choices = scope_choices()  # type: ignore[attr-defined]
