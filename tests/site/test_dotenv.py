"""A `.env` in the checkout (a developer's real API key, DEBUG...) reaches no test.

The test run sets READ_DOTENV=false in its environment (tests/settings.py) before the settings
load; the processes tests start inherit it. Outside tests, `.env` still fills in the gaps.
"""
from __future__ import annotations

import os

from tests.dotenv_probe import DOTENV, settings_seen


def test_the_test_run_and_the_processes_it_starts_ignore_a_dotenv(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {name: value for name, value in os.environ.items() if name not in DOTENV}  # nothing to override it
    seen = settings_seen(env, tmp_path)
    assert seen["XAI_API_KEY"] is None
    assert seen["SECRET_KEY"] != DOTENV["SECRET_KEY"] and seen["DEBUG"] is False


def test_outside_tests_the_dotenv_fills_in_what_the_environment_leaves_unset(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {name: value for name, value in os.environ.items() if name not in DOTENV and name != "READ_DOTENV"}
    seen = settings_seen({**env, "SECRET_KEY": "from-the-real-environment"}, tmp_path)
    assert seen["XAI_API_KEY"] == DOTENV["XAI_API_KEY"] and seen["DEBUG"] is True
    assert seen["SECRET_KEY"] == "from-the-real-environment"  # the real environment wins
