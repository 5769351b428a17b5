"""A strict Content-Security-Policy on every page, and pages that need nothing it forbids.

The browser's side (no violation while chatting, on the staff pages, at sign-in) is
tests/e2e/test_csp.py; here, the header and the markup every page is served with.
"""
from __future__ import annotations

import re

import pytest
from django.test import Client

from chat.models import Conversation

pytestmark = pytest.mark.django_db

ANONYMOUS = ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]
PAGES = ["/", "/accounts/tokens/",
         "/gateways/providers/", "/gateways/providers/add/", "/gateways/routes/", "/gateways/health/",
         "/team/people/", "/team/invites/", "/usage/report/", "/usage/me/", "/admin/",
         "/admin/gateways/provider/", "/admin/accounts/user/add/"]
SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)


def _policy(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    found = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        found[name] = values
    return found


def _pages(staff_client, emulator_provider, staff) -> list[tuple[str, object]]:  # type: ignore[no-untyped-def]
    conversation = Conversation.objects.create(owner=staff, title="hello")
    pages = [(url, staff_client.get(url)) for url in [*PAGES, f"/c/{conversation.id}/"]]
    pages += [(url, Client().get(url)) for url in ANONYMOUS]
    share = staff_client.post(f"/api/conversations/{conversation.id}/share")
    if share.status_code == 200:
        pages.append((share.json()["url"], Client().get(share.json()["url"])))
    return pages


def test_every_page_has_a_strict_policy(staff_client, emulator_provider, staff) -> None:
    for url, response in _pages(staff_client, emulator_provider, staff):
        assert response.status_code in (200, 403), url  # type: ignore[attr-defined]  (sign-up may be closed)
        policy = _policy(response)
        assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'"], url
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"], url
        script = policy["script-src"]
        assert "'self'" in script and not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:"} & set(script), url
        assert "'unsafe-inline'" not in policy["style-src"], url


def test_no_page_has_a_script_the_policy_would_block(staff_client, emulator_provider, staff) -> None:
    for url, response in _pages(staff_client, emulator_provider, staff):
        html = response.content.decode()  # type: ignore[attr-defined]
        nonces = re.findall(r"'nonce-([^']+)'", response["Content-Security-Policy"])  # type: ignore[index]
        for attrs in SCRIPT.findall(html):
            if "src=" in attrs or 'type="application/json"' in attrs:
                continue  # a file of ours, or data a script reads (json_script): never run inline
            nonce = re.search(r'nonce="([^"]+)"', attrs)
            assert nonce and nonce.group(1) in nonces, f"{url}: inline <script{attrs}> without the nonce"
        assert not HANDLER.search(html), f"{url}: an inline event handler"


def test_the_nonce_changes_with_every_answer(logged_in, emulator_provider) -> None:
    first, second = logged_in.get("/"), logged_in.get("/")
    assert re.findall(r"'nonce-[^']+'", first["Content-Security-Policy"]) != re.findall(
        r"'nonce-[^']+'", second["Content-Security-Policy"])


def test_json_answers_carry_the_policy_too() -> None:
    assert "frame-ancestors 'none'" in Client().get("/api/models/")["Content-Security-Policy"]
