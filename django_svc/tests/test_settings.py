import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

SERVICE = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("secret", [None, "too-short"])
def test_production_refuses_a_missing_or_short_secret(secret: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET_KEY"}
    env.update(APP_ENV="production", DJANGO_SETTINGS_MODULE="config.settings")
    if secret is not None:
        env["JWT_SECRET_KEY"] = secret
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=SERVICE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "JWT_SECRET_KEY" in result.stderr


def test_each_request_is_one_json_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="user_api.request"):
        Client().get("/health?password=secret", HTTP_X_REQUEST_ID="req-1")
    formatter = logging.getLogger("user_api.request").handlers[0].formatter
    assert formatter is not None
    lines = [json.loads(formatter.format(record)) for record in caplog.records]
    assert len(lines) == 1
    line = lines[0]
    assert (line["level"], line["message"]) == ("INFO", "request")
    assert line["time"]
    assert line["request_id"] == "req-1"
    assert line["method"] == "GET"
    assert line["path"] == "/health"
    assert line["status"] == 200
    assert "duration_ms" in line
    assert "secret" not in json.dumps(line)


def test_production_settings_pass_check_deploy() -> None:
    env = {**os.environ, "APP_ENV": "production", "JWT_SECRET_KEY": "k" * 40}
    env.pop("DJANGO_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=SERVICE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_django_signs_with_a_key_of_its_own() -> None:
    from django.conf import settings

    assert settings.SECRET_KEY != settings.JWT_SECRET_KEY


@pytest.mark.parametrize(
    ("app_env", "parameters"),
    [("test", "m=1024,t=1,p=1"), ("development", "m=65536,t=3,p=4")],
)
def test_only_app_env_test_hashes_with_cheap_parameters(app_env: str, parameters: str) -> None:
    env = {**os.environ, "APP_ENV": app_env, "DJANGO_SETTINGS_MODULE": "config.settings"}
    code = "import django; django.setup(); from django.contrib.auth.hashers import make_password; "
    result = subprocess.run(
        [sys.executable, "-c", code + "print(make_password('a password'))"],
        cwd=SERVICE,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"$argon2id$v=19${parameters}$" in result.stdout
