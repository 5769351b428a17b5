"""Settings for the test run: the real ones (grokweb/settings.py) with three test-only changes.

- READ_DOTENV=false, set in the environment before the real settings read it: a `.env` in the
  checkout (a developer's real XAI_API_KEY, DEBUG, DATABASE_URL...) reaches no test, and the
  processes tests start (settings checks, the integration tests' servers) inherit the switch.
- A fast password hasher: Argon2 is slow on purpose (about a second per hash on a busy machine),
  and every test user is a hash. The test that checks what production stores sets the real list.
- Plain static storage: pages render without `collectstatic` having run (no manifest needed).
"""
from __future__ import annotations

import os

os.environ["READ_DOTENV"] = "false"

from grokweb.settings import *  # noqa: F403
from grokweb.settings import STORAGES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# Static files straight from the source folders, as in development: no STATIC_ROOT needed
# (and no "No directory at .../staticfiles/" warning from WhiteNoise on a fresh checkout).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
