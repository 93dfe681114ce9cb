import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from config.middleware import JsonLineFormatter

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
    formatter = JsonLineFormatter()
    lines = [json.loads(formatter.format(record)) for record in caplog.records]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "req-1"
    assert line["method"] == "GET"
    assert line["path"] == "/health"
    assert line["status"] == 200
    assert "duration_ms" in line
    assert "secret" not in json.dumps(line)
