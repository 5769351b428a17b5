"""Session and CSRF cookies: HttpOnly/SameSite always; Secure (plus HSTS) when served over HTTPS without DEBUG.

Settings read the environment once at import, so each case is a fresh process (settings only:
no `django.setup()`, which would import every app for nothing).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READ = (
    "import json; from django.conf import settings as s; print(json.dumps({"
    "'session_secure': s.SESSION_COOKIE_SECURE, 'csrf_secure': s.CSRF_COOKIE_SECURE, "
    "'httponly': s.SESSION_COOKIE_HTTPONLY, 'samesite': [s.SESSION_COOKIE_SAMESITE, s.CSRF_COOKIE_SAMESITE], "
    "'hsts': getattr(s, 'SECURE_HSTS_SECONDS', 0), 'nosniff': s.SECURE_CONTENT_TYPE_NOSNIFF}))"
)


def settings_with(**env: str) -> dict:  # type: ignore[type-arg]
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "HTTPS", "SECURE_COOKIES")}
    done = subprocess.run([sys.executable, "-c", READ], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**clean, "DJANGO_SETTINGS_MODULE": "grokweb.settings", **env})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("env", "secure"), [
    ({"DEBUG": "false", "HTTPS": "true", "SECURE_HSTS_SECONDS": "3600"}, True),
    ({"DEBUG": "false", "SECURE_COOKIES": "true"}, True),
    ({"DEBUG": "true", "HTTPS": "true"}, False),  # a developer's machine: cookies must work over plain HTTP
    ({"DEBUG": "false"}, False),  # `make run` on http://127.0.0.1: no TLS, so Secure cookies would never be sent
])
def test_cookie_settings_follow_debug_and_https(env, secure) -> None:  # type: ignore[no-untyped-def]
    found = settings_with(**env)
    assert found["session_secure"] is secure and found["csrf_secure"] is secure
    assert found["httponly"] is True and found["samesite"] == ["Lax", "Lax"]
    if env.get("DEBUG") == "false":
        assert found["nosniff"] is True
    if "SECURE_HSTS_SECONDS" in env:
        assert found["hsts"] == 3600
