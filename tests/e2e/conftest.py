"""End-to-end fixtures: a real server (daphne + the built-in emulator) and Chromium.

These tests use Playwright's *sync* API and run in their own pytest process, apart
from the async suite (pytest-asyncio's loop and Playwright's sync loop do not mix):

    .venv/bin/pytest tests/e2e -m e2e -p no:asyncio -p no:django

(`-p no:django` is optional: nothing here touches Django in the test process.)

The server is a subprocess on a free port with a temporary SQLite database:
migrate, a user, collectstatic, `manage.py bootstrap` (no API key: the emulator is
the provider), then daphne. The emulator is mounted in the same ASGI app at
/emulator/, slowed to EMULATOR_DELAY_SCALE so streaming can be watched and stopped.

Chromium: E2E_CHROMIUM (default /usr/bin/chromium); `playwright install` is not needed.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
USERNAME = "e2e-user"
PASSWORD = "e2e correct horse battery"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    """Override tests/conftest.py's: the server runs in a subprocess, nothing to reset here
    (and with `-p no:django` Django is not set up in this process at all)."""
    yield


@dataclass
class LiveServer:
    url: str
    username: str
    password: str
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def manage(self, *args: str) -> str:
        """Run a management command against this server's database (e.g. `shell -c` to seed data)."""
        return _manage(self.env, *args)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer {url} in {timeout:.0f}s:\n{log.read_text()[-4000:]}")


def _revendor_if_stale() -> None:
    """static/vendor/ is built, not committed: rebuild it when the build script or the lock file
    is newer than it (after a merge), so the page does not ask for vendor files it lacks."""
    stamp = ROOT / "static" / "vendor" / "VERSIONS.json"
    inputs = [ROOT / "scripts" / "vendor.mjs", ROOT / "package-lock.json"]
    if stamp.exists() and all(stamp.stat().st_mtime >= p.stat().st_mtime for p in inputs if p.exists()):
        return
    node = shutil.which("node")
    if node is None:
        pytest.fail("static/vendor/ is older than scripts/vendor.mjs and node is not on PATH: run `npm run vendor`")
    subprocess.run([node, "scripts/vendor.mjs"], cwd=ROOT, check=True, capture_output=True, timeout=300)


def _rebuild_if_stale() -> None:
    """static/build/ (our modules, bundled by scripts/build.mjs) is what the pages load: rebuild it
    when a module in static/js/ or the build script is newer, so the tests run the code as edited."""
    built = ROOT / "static" / "build" / "app.js"
    inputs = [ROOT / "scripts" / "build.mjs", *(ROOT / "static" / "js").glob("*.js")]
    if built.exists() and all(built.stat().st_mtime >= p.stat().st_mtime for p in inputs):
        return
    node = shutil.which("node")
    if node is None:
        pytest.fail("static/build/ is missing or older than static/js/ and node is not on PATH: run `make setup`")
    subprocess.run([node, "scripts/build.mjs"], cwd=ROOT, check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="session")
def grokweb_server() -> Iterator[LiveServer]:
    if not (ROOT / "static" / "vendor" / "marked.esm.js").exists():
        pytest.fail("static/vendor/ is missing: run `npm install` (or `npm run vendor`) first")
    _revendor_if_stale()
    _rebuild_if_stale()
    tmp = Path(tempfile.mkdtemp(prefix="grokweb-e2e-"))
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "grokweb.settings",
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "SECRET_KEY": "e2e-not-secret-" + "x" * 40,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STATIC_ROOT": str(tmp / "static"),
        "MEDIA_ROOT": str(tmp / "media"),
        "EMULATOR_URL": f"http://127.0.0.1:{port}/emulator/v1",
        "EMULATOR_DELAY_SCALE": os.environ.get("E2E_DELAY_SCALE", "0.3"),
        # The mounted emulator answers only this key (bootstrap stores it in its provider); a
        # test that adds a second provider pointing at it enters the same key.
        "EMULATOR_API_KEY": "sk-e2e-emulator-key-do-not-show",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        # A developer's .env (a real XAI_API_KEY...) must not refill what is removed below.
        "READ_DOTENV": "false",
    }
    for key in ("XAI_API_KEY", "AIMLAPI_API_KEY", "MAXTOKEN_API_KEY", "CRAZYROUTER_API_KEY", "REDIS_URL"):
        env.pop(key, None)
    _manage(env, "migrate", "--noinput")
    _manage(env, "shell", "-c", (
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_superuser({USERNAME!r}, 'e2e@example.com', {PASSWORD!r})"
    ))
    _manage(env, "collectstatic", "--noinput", "--clear")
    _manage(env, "bootstrap", "--url", f"http://127.0.0.1:{port}/")
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("daphne")), "-b", "127.0.0.1", "-p", str(port),
             "grokweb.asgi:application"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz", proc, log)
        yield LiveServer(f"http://127.0.0.1:{port}", USERNAME, PASSWORD, log, env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if os.environ.get("E2E_KEEP_TMP"):
            print(f"e2e files kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set E2E_CHROMIUM)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def context(browser, grokweb_server):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=grokweb_server.url, viewport={"width": 1280, "height": 860})
    yield context
    context.close()


@pytest.fixture
def page(context):  # type: ignore[no-untyped-def]
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.js_errors = errors  # type: ignore[attr-defined]
    # Every Content-Security-Policy violation on any page of any test, as the browser reports it.
    blocked: list[str] = []
    page.expose_function("grokwebCspViolation", lambda text: blocked.append(str(text)))
    page.add_init_script(CSP_LISTENER)
    page.csp_violations = blocked  # type: ignore[attr-defined]
    yield page
    page.close()
    if blocked:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(blocked))


# Installed before any script of the page runs (Playwright's init scripts are not subject to the policy).
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.grokwebCspViolation(`${location.pathname}: ${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`
    + ` (${e.sourceFile || "?"}:${e.lineNumber}) ${e.sample || ""}`);
});
"""


def sign_in(page, server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    page.goto("/accounts/login/")
    page.fill("#id_username", server.username)
    page.fill("#id_password", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Playwright's sync API cannot run beside pytest-asyncio's loop: skip unless run apart."""
    if not Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
        return
    if item.config.pluginmanager.hasplugin("asyncio"):
        pytest.skip("run the browser tests on their own: pytest tests/e2e -m e2e -p no:asyncio")
