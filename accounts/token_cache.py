"""A per-process store of what the Team API reads about a token on every call, and when it must be read again.

Checking a token costs a query (the token and its owner) and admitting its call another (the
owner's group policies): the same answers call after call. A process keeps them per token hash
(teamapi.grants) while a version number in the shared cache is unchanged (Redis in the team
deployment, so every process sees a bump at once) and for at most `TTL_S` anyway.

Everything that can refuse a token or change what its owner may do bumps the version once it is
committed: a token saved, revoked or deleted; a user saved (status, staff, budgets) or deleted,
added to or removed from a group; a group policy saved or deleted; a group deleted; the GROKWEB
setting changed (tests). So a revoked token, a disabled owner or removed access is refused on the
very next call, in every process. (Models, routes and model access have their own version:
gateways.plans.) Only a token's last-use stamp (accounts.tokens.touch) is written without a bump.
"""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.core.signals import setting_changed
from django.db.models.signals import m2m_changed, post_delete, post_save

from gateways.versioned import VersionedStore

from .models import ApiToken, GroupPolicy, User

VERSION_KEY = "grokweb:accounts:tokens:version"
TTL_S = 30.0
_store = VersionedStore(VERSION_KEY, TTL_S)
version = _store.version  # the shared version; read it before the rows a value is built from
get = _store.get  # the value kept for a key under a version and not expired, or None
put = _store.put
changed = _store.changed  # something a kept value depends on was committed: every process reads again
changed_on_commit = _store.changed_on_commit
forget = _store.forget  # tests


def _renew(sender: Any, **kwargs: Any) -> None:
    changed_on_commit()


def _user_saved(sender: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # signing in changes nothing a token may do
    changed_on_commit()


def _setting(setting: str, **kwargs: Any) -> None:
    if setting == "GROKWEB":
        changed()


post_save.connect(_renew, sender=ApiToken, dispatch_uid="accounts.token_cache.token_save")
post_delete.connect(_renew, sender=ApiToken, dispatch_uid="accounts.token_cache.token_delete")
post_save.connect(_user_saved, sender=User, dispatch_uid="accounts.token_cache.user_save")
post_delete.connect(_renew, sender=User, dispatch_uid="accounts.token_cache.user_delete")
m2m_changed.connect(_renew, sender=User.groups.through, dispatch_uid="accounts.token_cache.user_groups")
post_save.connect(_renew, sender=GroupPolicy, dispatch_uid="accounts.token_cache.policy_save")
post_delete.connect(_renew, sender=GroupPolicy, dispatch_uid="accounts.token_cache.policy_delete")
post_delete.connect(_renew, sender=Group, dispatch_uid="accounts.token_cache.group_delete")
setting_changed.connect(_setting, dispatch_uid="accounts.token_cache.setting")
