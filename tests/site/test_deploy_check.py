"""`manage.py check --deploy` with the production settings docs/operations.md tells operators to use: no warning.

The settings are read from the document itself (its `.env` block under Deployment), so
the document and this check cannot drift apart.
"""
from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def documented_env() -> dict[str, str]:
    text = (ROOT / "docs" / "operations.md").read_text()
    block = text.split("Then, in `.env`:", 1)[1].split("```", 2)[1]
    found = dict(re.findall(r"^([A-Z_]+)=(.*)$", block, re.MULTILINE))
    assert {"ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "HTTPS"} <= set(found)
    return found


def test_the_documented_production_settings_pass_the_deploy_check(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DEBUG", "SECURE_", "HTTPS", "DJANGO_"))}
    env.update(documented_env())
    env.update({"DJANGO_SETTINGS_MODULE": "grokweb.settings", "READ_DOTENV": "false",
                # as the document says to generate it
                "SECRET_KEY": secrets.token_urlsafe(50), "DATABASE_URL": f"sqlite:///{tmp_path}/deploy.sqlite3"})
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "no issues (0 silenced)" in done.stdout, done.stdout + done.stderr
