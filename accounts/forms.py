"""Forms for signing in, signing up, accepting invites and the staff pages."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils import timezone

from .models import Invite, SiteSettings, User
from .status import MESSAGES


class SignInForm(AuthenticationForm):
    """Django's sign-in form, telling pending and disabled users why they cannot sign in."""

    def confirm_login_allowed(self, user: Any) -> None:
        if user.status == User.Status.PENDING:
            raise ValidationError(MESSAGES["pending"], code="pending")
        if user.status == User.Status.DISABLED or not user.is_active:
            raise ValidationError(MESSAGES["disabled"], code="inactive")


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower()


class SignUpForm(UserCreationForm):
    """Username, e-mail (unique, from an allowed domain when a list is set) and a password twice."""

    email = forms.EmailField(required=True, max_length=254)

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def __init__(self, *args: Any, domains: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.domains = domains or []
        if self.domains:
            self.fields["email"].help_text = "Allowed domains: " + ", ".join(self.domains)

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if self.domains and email_domain(email) not in self.domains:
            raise ValidationError(
                "Sign-up is limited to addresses at %(domains)s.", code="domain",
                params={"domains": ", ".join(self.domains)},
            )
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError("An account with this e-mail address already exists.", code="taken")
        return email


class InviteAcceptForm(SignUpForm):
    """Sign-up through an invite: no domain list; an invite bound to an address needs that address."""

    def __init__(self, *args: Any, invite: Invite, **kwargs: Any) -> None:
        super().__init__(*args, domains=[], **kwargs)
        self.invite = invite
        if invite.email:
            self.fields["email"].initial = invite.email
            self.fields["email"].help_text = "This invite is for this address."

    def clean_email(self) -> str:
        email = super().clean_email()
        if self.invite.email and email.lower() != self.invite.email.lower():
            raise ValidationError(
                "This invite was sent to a different e-mail address; use the address it was sent to.",
                code="invite_email",
            )
        return email


class SiteSettingsForm(forms.ModelForm):
    class Meta:
        model = SiteSettings
        fields = ("signup_mode", "allowed_domains")
        widgets = {"allowed_domains": forms.Textarea(attrs={"rows": 2, "placeholder": "example.com, example.org"})}
        labels = {"signup_mode": "Sign-up mode", "allowed_domains": "Allowed e-mail domains"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["signup_mode"]
        field.choices = [("", f"Environment default ({settings.SIGNUP_MODE})"), *SiteSettings.Mode.choices]

    def clean_allowed_domains(self) -> str:
        raw = self.cleaned_data["allowed_domains"]
        domains = [d.strip().lower().lstrip("@") for d in raw.replace("\n", ",").split(",") if d.strip()]
        bad = [d for d in domains if "." not in d or " " in d or "@" in d]
        if bad:
            raise ValidationError("Not a domain: %(bad)s", params={"bad": ", ".join(bad)})
        return ", ".join(sorted(set(domains)))


class InviteForm(forms.Form):
    email = forms.EmailField(required=False, help_text="Optional: only this address can accept it.")
    group = forms.ModelChoiceField(queryset=Group.objects.order_by("name"), required=False, empty_label="No group")
    budget_usd = forms.DecimalField(required=False, min_value=Decimal(0), max_digits=12, decimal_places=4,
                                    label="Monthly budget (USD)", help_text="Optional per-user override.")
    budget_tokens = forms.IntegerField(required=False, min_value=0, label="Monthly budget (tokens)")
    max_uses = forms.IntegerField(min_value=1, max_value=1000, initial=1, label="Uses",
                                  help_text="1 for a single person.")
    days = forms.IntegerField(min_value=1, max_value=90, label="Valid for (days)")
    note = forms.CharField(required=False, max_length=120)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["days"].initial = settings.INVITE_DAYS

    def expires_at(self) -> Any:
        return timezone.now() + timedelta(days=self.cleaned_data["days"])


class BudgetForm(forms.Form):
    """A person's own monthly budget override (blank fields: the group budgets apply)."""

    budget_usd = forms.DecimalField(required=False, min_value=Decimal(0), max_digits=12, decimal_places=4)
    budget_tokens = forms.IntegerField(required=False, min_value=0)


class ApiTokenForm(forms.Form):
    """A new personal access token: a name, when it expires, and optionally which models it may use."""

    EXPIRY = [("30", "in 30 days"), ("90", "in 90 days"), ("365", "in a year"), ("7", "in 7 days"), ("", "never")]

    name = forms.CharField(max_length=80, help_text="What it is for, e.g. “laptop notebook” or “CI”.")
    expires = forms.ChoiceField(choices=EXPIRY, required=False, initial="90")
    models = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to allow every model your account may use (now and later).")

    def __init__(self, *args: Any, models: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["models"].choices = [(m.slug, f"{m.name} ({m.slug})") for m in models or []]

    def expires_at(self) -> Any:
        days = self.cleaned_data.get("expires")
        return timezone.now() + timedelta(days=int(days)) if days else None
