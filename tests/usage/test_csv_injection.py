"""A CSV an admin opens in a spreadsheet runs nothing: cells that would start a formula are escaped (OWASP).

New usernames cannot start with = + - @ at all (tests/accounts/test_usernames.py)."""
from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from usage.exports import safe_cell

pytestmark = pytest.mark.django_db

HOSTILE = ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def _rows(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize("value", HOSTILE)
def test_a_cell_that_would_start_a_formula_is_shown_as_text(value) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-0.0012", "-5", "12", "1.5e-3", "alice", "", 3, None])
def test_numbers_and_plain_text_are_left_alone(value) -> None:
    assert safe_cell(value) == value


@pytest.mark.parametrize(("url", "table"), [("usage:report_csv", "user"), ("usage:report_csv", "ledger"),
                                            ("usage:me_csv", "ledger")])
def test_usage_csvs_escape_a_hostile_username(record, staff_client, staff, today, url, table) -> None:
    # Made directly: an account named before usernames were restricted (or by a script).
    evil = User.objects.create_user(HOSTILE[0], "evil@example.com", "x")
    record(evil, day=today)
    record(staff, day=today)
    client = staff_client
    if url == "usage:me_csv":
        client = Client()
        client.force_login(evil)
    rows = _rows(client.get(reverse(url), {"table": table, "preset": "month"}))
    cells = [cell for row in rows[1:] for cell in row]
    assert "'" + HOSTILE[0] in cells
    assert not [cell for cell in cells if cell.startswith(("=", "+", "@", "\t", "\r"))]
    assert not [cell for cell in cells if cell.startswith("-") and not cell.lstrip("-").replace(".", "").isdigit()]


def test_the_report_api_csv_escapes_too(record, staff_client, today) -> None:
    evil = User.objects.create_user("@SUM(A1)", "evil@example.com", "x")
    record(evil, day=today)
    rows = _rows(staff_client.get("/api/usage/report", {"group_by": "user", "format": "csv"}))
    assert ["'@SUM(A1)", "'@SUM(A1)"] == rows[1][:2]
