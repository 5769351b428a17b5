"""The browser tests' server runs on the emulator even when the checkout has a `.env` with a real key.

The fixture removes XAI_API_KEY & co. from the server's environment; settings must not read
them back from `.env` (tests/dotenv_probe.py runs a copy of the settings next to a `.env`).
"""
from __future__ import annotations

import pytest

from tests.dotenv_probe import DOTENV, settings_seen

from .conftest import LiveServer

pytestmark = pytest.mark.e2e


def test_the_server_environment_ignores_a_dotenv(grokweb_server: LiveServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    seen = settings_seen(grokweb_server.env, tmp_path)
    assert seen["XAI_API_KEY"] is None and seen["SECRET_KEY"] != DOTENV["SECRET_KEY"]
    printed = grokweb_server.manage("shell", "-c", "import os; print(os.environ.get('XAI_API_KEY'))")
    assert printed.strip().splitlines()[-1] == "None"  # (Django's shell may print its auto-imports first)
