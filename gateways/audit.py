"""The provider audit log: who changed what, when. Field names only; a key change is just "key changed"."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .models import AuditEntry, Provider

# Fields whose values never go into the log, only the fact they changed.
SECRET_FIELDS = frozenset({"api_key", "api_key_encrypted"})


def record(provider: Provider, actor: Any, action: str, fields: list[str] | None = None) -> AuditEntry:
    names = sorted({"api_key" if f in SECRET_FIELDS else f for f in (fields or [])})
    return AuditEntry.objects.create(
        provider=provider, provider_name=provider.name, actor=actor if getattr(actor, "pk", None) else None,
        actor_name=getattr(actor, "username", "") or "", action=action, fields=names,
    )


def record_system(provider: Provider, action: str, fields: list[str] | None = None) -> AuditEntry:
    """A change made by start-up or a management command rather than a person."""
    return record(provider, None, action, fields)


def shown_url(url: Any) -> str:
    """A URL as the log keeps it: scheme, host, port and path; never a user:password@ or a query (a key may
    hide in either)."""
    parts = urlsplit(str(url or ""))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def record_form_save(provider: Provider, actor: Any, created: bool, changed: list[str], key_changed: bool,
                     moves: dict[str, tuple[Any, Any]] | None = None) -> None:
    """The entries one save of the provider form makes: created/edited (a new base URL or kind with
    its before and after), enabled/disabled, key changed."""
    if created:
        record(provider, actor, AuditEntry.Action.CREATED, [f for f in changed if f not in SECRET_FIELDS])
        if key_changed:
            record(provider, actor, AuditEntry.Action.KEY_CHANGED, ["api_key"])
        return
    plain = [f for f in changed if f not in SECRET_FIELDS and f != "enabled"]
    if "enabled" in changed:
        record(provider, actor, AuditEntry.Action.ENABLED if provider.enabled else AuditEntry.Action.DISABLED,
               ["enabled"])
    for name, (before, after) in (moves or {}).items():
        if name == "base_url":
            before, after = shown_url(before), shown_url(after)
        plain = [f for f in plain if f != name] + [f"{name}: {before} → {after}"]
    if plain:
        record(provider, actor, AuditEntry.Action.EDITED, plain)
    if key_changed:
        record(provider, actor, AuditEntry.Action.KEY_CHANGED, ["api_key"])
