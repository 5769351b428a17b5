"""docker-compose.yml, the Dockerfile and .env.example agree with the code they start.

No Docker engine runs here, so the deployment cannot be brought up in a test; what can be
checked is that every name the files hand over exists on the other side: each variable the
compose file or .env.example sets is one the code reads (a renamed setting would be ignored
silently), each command's script exists, each health check's URL is served, each service a
service waits for is defined, and the media volume is where the settings keep attachments.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.urls import resolve

ROOT = Path(__file__).resolve().parents[2]
# Read by docker compose itself or by the postgres image, not by the app.
COMPOSE_ONLY = {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "WEB_BIND", "WEB_PORT", "PUBLIC_URL"}
APP_SERVICES = ("migrate", "web", "worker", "beat")


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def code_text() -> str:
    """The app's own Python, where every setting it reads is named."""
    files = [*ROOT.glob("*/*.py"), *ROOT.glob("scripts/*.py"), ROOT / "manage.py"]
    return "\n".join(path.read_text() for path in files if path.parts[-2] not in ("tests", "bench", ".venv"))


def read_by_code(name: str, text: str) -> bool:
    return re.search(rf"[\"']{re.escape(name)}[\"']", text) is not None


def test_every_variable_the_compose_file_gives_the_app_is_read_by_it() -> None:
    services = compose()["services"]
    names = {name for service in APP_SERVICES for name in (services[service].get("environment") or {})}
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "WEB_PROCESSES"} <= names  # the anchors were followed
    text = code_text()
    unread = sorted(name for name in names - COMPOSE_ONLY if not read_by_code(name, text))
    assert unread == []


def test_every_variable_env_example_mentions_is_read_by_the_app_or_compose() -> None:
    example = (ROOT / ".env.example").read_text()
    names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    assert {"SECRET_KEY", "XAI_API_KEY", "WEB_PROCESSES"} <= names
    text = code_text()
    unread = sorted(name for name in names - COMPOSE_ONLY if not read_by_code(name, text))
    assert unread == []


def test_services_wait_only_for_services_that_exist_and_name_defined_volumes() -> None:
    data = compose()
    services, volumes = data["services"], set(data.get("volumes") or {})
    for name, service in services.items():
        for needed in service.get("depends_on") or {}:
            assert needed in services, f"{name} waits for an undefined service {needed}"
        for mount in service.get("volumes") or []:
            source = mount.split(":", 1)[0]
            assert source.startswith((".", "/")) or source in volumes, f"{name} mounts an undefined volume {source}"


def test_each_app_command_runs_something_that_exists() -> None:
    services = compose()["services"]
    assert services["web"]["command"][:2] == ["python", "scripts/web.py"]
    assert (ROOT / "scripts" / "web.py").is_file()
    for service in ("worker", "beat"):
        command = services[service]["command"]
        assert command[:3] == ["celery", "-A", "grokweb"] and (ROOT / "grokweb" / "celery.py").is_file()
    migrate = " ".join(services["migrate"]["command"])
    for management_command in re.findall(r"manage\.py (\w+)", migrate):
        found = [*ROOT.glob(f"*/management/commands/{management_command}.py")]
        assert found or management_command == "migrate", f"no management command {management_command}"


@pytest.mark.django_db
def test_the_web_health_check_asks_a_url_the_app_serves() -> None:
    check = compose()["services"]["web"]["healthcheck"]["test"]
    assert check[1:3] == ["python", "scripts/healthcheck.py"] and (ROOT / "scripts" / "healthcheck.py").is_file()
    assert resolve(check[3]).url_name == "readyz"


def test_the_media_volume_is_where_the_image_keeps_attachments() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    workdir = re.findall(r"^WORKDIR (\S+)", dockerfile, re.MULTILINE)[-1]
    mounts = compose()["x-app"]["volumes"]
    assert f"media:{workdir}/var/media" in mounts
    settings_text = (ROOT / "grokweb" / "settings.py").read_text()
    assert 'MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")' in settings_text
    assert re.search(r'^VAR_DIR = BASE_DIR / "var"', settings_text, re.MULTILINE)
    assert "/app/var/media" in dockerfile  # created and owned by the app's user before the volume mounts
