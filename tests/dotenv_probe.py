"""What grokweb/settings.py makes of a `.env` in its checkout, given an environment.

A copy of the settings runs in a temporary checkout (its own BASE_DIR, with a `.env` holding
secrets) in a fresh process: the developer's real `.env` is never touched, and `.env` values
that settings copy into the environment stay in that process.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What a developer's .env may hold; none of it may reach a test.
DOTENV = {"XAI_API_KEY": "xai-from-a-dotenv-file", "SECRET_KEY": "secret-from-a-dotenv-file-" + "x" * 30,
          "DEBUG": "true"}
PROBE = (
    "import json, os, runpy, sys; s = runpy.run_path(sys.argv[1]); "
    "print(json.dumps({'SECRET_KEY': s['SECRET_KEY'], 'DEBUG': s['DEBUG'], "
    "'XAI_API_KEY': os.environ.get('XAI_API_KEY')}))"  # what `bootstrap` would read (gateway keys)
)


def settings_seen(env: Mapping[str, str], checkout: Path) -> dict[str, object]:
    """SECRET_KEY, DEBUG and the XAI_API_KEY start-up would use, with `env` as the whole environment."""
    (checkout / "grokweb").mkdir(parents=True)
    settings = shutil.copy(ROOT / "grokweb" / "settings.py", checkout / "grokweb" / "settings.py")
    (checkout / ".env").write_text("".join(f"{name}={value}\n" for name, value in DOTENV.items()))
    done = subprocess.run([sys.executable, "-c", PROBE, str(settings)], cwd=checkout, env=dict(env),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
