"""Upgrading a database from before the domain move, on SQLite (tests/integration has PostgreSQL)."""
from __future__ import annotations

import pytest
from django.test import Client

from tests.upgrade_scenario import upgrade_keeps_everything


@pytest.mark.django_db(transaction=True)
def test_upgrading_from_before_the_domain_move_keeps_every_row_and_key() -> None:
    upgrade_keeps_everything(Client())
