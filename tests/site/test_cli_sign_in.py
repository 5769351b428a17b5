"""PROTOCOL.md, "Sign-in for non-browser clients", step by step over a real daphne, as a CLI would do it.

GET /accounts/login/ for the CSRF cookie, POST username, password and csrfmiddlewaretoken, then the
sessionid cookie opens the websocket (with an allowed Origin) and the JSON API; writes send X-CSRFToken.
"""
from __future__ import annotations

import re

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from chat.models import Conversation
from tests.site.test_lean_sockets import _frame, _open

from .daphne import running_daphne

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_script_signs_in_with_the_login_form_then_uses_the_socket_and_the_api(user, emulator_provider) -> None:
    # daphne runs the real settings, whose hashers are not the tests' fast one: store a hash it can check.
    user.password = PBKDF2PasswordHasher().encode("correct horse battery", "contractsalt", iterations=1000)
    user.save(update_fields=["password"])
    conversation = Conversation.objects.create(owner=user, title="before")
    # DEBUG: plain static storage, so the login page renders in a clean clone before any collectstatic
    # (the manifest storage answers 500 without one); nothing this test checks depends on it otherwise.
    with running_daphne(DEBUG="true") as url, httpx.Client(base_url=url, timeout=30) as http:
        page = http.get("/accounts/login/")
        assert page.status_code == 200 and "csrftoken" in http.cookies
        token = http.cookies["csrftoken"]
        assert re.search(r'name="csrfmiddlewaretoken"', page.text)
        signed_in = http.post("/accounts/login/", data={"username": "alice", "password": "correct horse battery",
                                                        "csrfmiddlewaretoken": token})
        assert signed_in.status_code == 302 and "sessionid" in http.cookies
        session = http.cookies["sessionid"]

        assert http.get("/api/models/").status_code == 200
        path = f"/api/conversations/{conversation.id}/"
        assert http.patch(path, json={"title": "no token"}).status_code == 403  # writes are CSRF-checked
        csrf = http.cookies["csrftoken"]  # rotated at sign-in
        renamed = http.patch(path, json={"title": "renamed"}, headers={"X-CSRFToken": csrf})
        assert renamed.status_code == 200 and renamed.json()["title"] == "renamed"

        with _open(url, session) as ws:
            ws.send('{"type": "ping"}')
            assert _frame(ws) == {"type": "pong"}
