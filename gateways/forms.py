"""The provider form: the key is write-only (never rendered back), headers are JSON without secrets."""
from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings

from . import audit
from .models import Model, Provider

# Headers that carry credentials belong in the (encrypted, write-only) key field.
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "proxy-authorization", "cookie"})


class HeadersField(forms.CharField):
    """A JSON object of header names to values, edited as text."""

    widget = forms.Textarea(attrs={"rows": 3, "placeholder": '{"X-Title": "Grokweb"}'})

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, dict):
            return json.dumps(value, indent=1) if value else ""
        return super().prepare_value(value)

    def to_python(self, value: Any) -> dict[str, str]:
        text = (value or "").strip()
        if not text:
            return {}
        try:
            data = json.loads(text)
        except ValueError:
            raise forms.ValidationError('Write the headers as a JSON object, e.g. {"X-Title": "Grokweb"}.') from None
        if not isinstance(data, dict) or not all(isinstance(v, (str, int, float)) for v in data.values()):
            raise forms.ValidationError("Headers must be a JSON object of names to text values.")
        secret = sorted(k for k in data if str(k).lower() in SECRET_HEADERS)
        if secret:
            raise forms.ValidationError(f"{', '.join(secret)} would be shown on this page: put the key in the "
                                        "API key field, which is stored encrypted and never shown.")
        return {str(k): str(v) for k, v in data.items()}


# What a key is bound to: changing either needs the key again, and, with
# GATEWAY_KEYS_SUPERUSERS_ONLY, only superusers change any of them.
KEY_BOUND = ("api_key", "base_url", "kind")


def may_change_keys(actor: Any) -> bool:
    return not settings.GATEWAY_KEYS_SUPERUSERS_ONLY or bool(getattr(actor, "is_superuser", False))


class ProviderForm(forms.ModelForm):
    api_key = forms.CharField(
        label="API key", required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: stored encrypted, never shown again. Leave empty to keep the stored key.",
    )
    headers = HeadersField(required=False, help_text="Extra HTTP headers as JSON (no credentials).")

    class Meta:
        model = Provider
        fields = ["name", "kind", "base_url", "api_key", "enabled", "include_usage", "usage_convention",
                  "connect_timeout", "first_token_timeout", "idle_timeout", "max_retries", "headers"]
        labels = {"include_usage": "Accepts stream_options", "base_url": "Base URL"}
        help_texts = {
            "kind": "How its model ids are spelled; “OpenAI-compatible” for any other gateway.",
            "usage_convention": "How it counts reasoning tokens: A outside the completion count (xAI), "
                                "B inside it (OpenAI style), or detect from the numbers.",
            "first_token_timeout": "Seconds to wait for the first token before trying the next route; a "
                                   "silent gateway is not asked again (reasoning models may think silently "
                                   "for 10 s or more; REPLY_START_DEADLINE_S bounds all routes together).",
            "max_retries": "Retries on this provider before an error; none when another route can take over.",
        }

    # Who is editing: the Django admin sets it on a subclass (gateways.admin), the pages pass it.
    actor: Any = None

    def __init__(self, *args: Any, actor: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor or self.actor
        defaults = " · ".join(f"{Provider.Kind(kind).label}: {url}"
                              for kind, (_, _, url) in settings.PROVIDER_ENV.items())
        self.fields["base_url"].help_text = f"The root of its OpenAI-compatible API, ending in /v1 ({defaults})."
        if self.instance.pk is not None and self.instance.api_key_encrypted:
            self.fields["api_key"].help_text = (
                "Write-only: stored encrypted, never shown again. Leave empty to keep the stored key; "
                "changing the base URL or the kind needs the key entered again.")
        if not may_change_keys(self.actor):
            for name in KEY_BOUND:
                self.fields[name].disabled = True
                self.fields[name].help_text = "Only superusers change keys and URLs (GATEWAY_KEYS_SUPERUSERS_ONLY)."

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        creating = self.instance.pk is None
        if creating and not data.get("api_key") and data.get("kind") != Provider.Kind.EMULATOR:
            self.add_error("api_key", "A new provider needs its API key.")
        moved = [name for name in ("base_url", "kind") if name in self.changed_data]
        if not creating and moved and self.instance.api_key_encrypted and not data.get("api_key"):
            # A key goes only where it was entered for: otherwise a new URL (someone's own
            # server) and "Test connection" would hand the stored key over.
            self.add_error("api_key", "Enter the API key again: the stored key is only sent to the "
                                      f"{' and '.join(n.replace('_', ' ') for n in moved)} it was entered for.")
        for name in ("connect_timeout", "first_token_timeout", "idle_timeout"):
            value = data.get(name)
            if value is not None and not 0 < value <= 3600:
                self.add_error(name, "Between 0 and 3600 seconds.")
        return data

    def save_by(self, actor: Any) -> Provider:
        """Save, mark the provider as changed by hand (start-up leaves it alone) and audit the change."""
        created = self.instance.pk is None
        provider = super().save(commit=False)
        key = self.cleaned_data.get("api_key") or ""
        key_changed = bool(key) and not provider.has_key(key)
        if key_changed:
            provider.set_api_key(key)
        changed = [f for f in self.changed_data if f != "api_key"]
        provider.edited_by_hand = provider.edited_by_hand or created or bool(changed) or key_changed
        provider.save()
        moves = {} if created else {name: (self.initial.get(name), self.cleaned_data.get(name))
                                    for name in ("base_url", "kind") if name in changed}
        audit.record_form_save(provider, actor, created, changed, key_changed, moves)
        return provider


class MapForm(forms.Form):
    """Map an unlisted id to a model, or ignore it."""

    model = forms.ModelChoiceField(queryset=Model.objects.order_by("sort_order", "name"), to_field_name="slug",
                                   empty_label="Choose a model")
