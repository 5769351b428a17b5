"""Fixtures for the accounts tests: staff, groups with policies, site sign-up settings."""
from __future__ import annotations

from decimal import Decimal

import pytest


@pytest.fixture
def make_group(db):  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group

    from accounts.models import GroupPolicy

    def make(name: str, *, usd: str | None = None, tokens: int | None = None, per_minute: int | None = None,
             live: int | None = None, members: tuple = ()) -> Group:  # type: ignore[type-arg]
        group = Group.objects.create(name=name)
        GroupPolicy.objects.create(group=group, budget_usd=Decimal(usd) if usd is not None else None,
                                   budget_tokens=tokens, messages_per_minute=per_minute, max_live_generations=live)
        for member in members:
            member.groups.add(group)
        return group

    return make


@pytest.fixture
def signup_mode(db):  # type: ignore[no-untyped-def]
    from accounts.models import SiteSettings

    def set_mode(mode: str, domains: str = "") -> SiteSettings:
        site = SiteSettings.load()
        site.signup_mode = mode
        site.allowed_domains = domains
        site.save()
        return site

    return set_mode
