"""Behaviour that needs a server of its own: restarts, start-up checks, SIGTERM,
the request log, a short throttling window."""

from __future__ import annotations

import http.client
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

import servers
from conftest import ServerFactory, Target
from contract import get_contract
from helpers import LOGOUT, ME, REFRESH, TOKEN, USERS, Api, log_entry, make_client
from servers import RunningServer, Settings


def test_revocations_throttling_and_users_survive_a_restart(
    server_factory: ServerFactory, target: Target
) -> None:
    settings = Settings()
    with servers.fresh_database(target.database) as database_url:
        with server_factory(settings=settings, database_url=database_url) as first:
            api = Api.of(first)
            account = api.register()
            logged_out = api.login(account.email, account.password)
            assert (
                api.client.post(
                    LOGOUT,
                    json={"refresh_token": logged_out["refresh_token"]},
                    headers={"Authorization": f"Bearer {logged_out['access_token']}"},
                ).status_code
                == 204
            )
            rotated_from = account.refresh
            assert api.refresh(rotated_from).status_code == 200
            ghost = f"ghost-{uuid.uuid4().hex}@example.com"
            for _ in range(settings.max_failures):
                assert api.login_response(ghost, "wrong password!").status_code == 401
            api.client.close()
        # Prepared again with another admin password: the existing admin is left as it is.
        again = replace(settings, admin_password="another-admin-password")
        with server_factory(settings=again, database_url=database_url) as second:
            api = Api.of(second)
            assert api.login_response(settings.admin_email, again.admin_password).status_code == 401
            api.admin_password = settings.admin_password
            assert api.me(logged_out["access_token"]).status_code == 401
            assert (
                api.client.post(
                    REFRESH, json={"refresh_token": logged_out["refresh_token"]}
                ).status_code
                == 401
            )
            assert api.refresh(rotated_from).status_code == 401
            assert api.login_response(ghost, "wrong password!").status_code == 429
            # The user is still there, and the bootstrap admin was not duplicated.
            assert api.login_response(account.email, account.password).status_code == 200
            page = api.client.get(
                USERS, params={"search": settings.admin_email}, headers=api.admin_headers()
            ).json()
            assert page["count"] == 1
            assert page["results"][0]["is_admin"] is True
            assert page["results"][0]["name"] == "Admin"
            api.client.close()


def _run_serve(target: Target, env_changes: dict[str, str | None]) -> tuple[int, str]:
    spec = servers.SERVICES[target.name]
    settings = Settings()
    with servers.sqlite_database() as database_url:
        env = servers.base_env(
            spec,
            database_url=database_url,
            port=servers.free_port(),
            settings=settings,
            redis_url=None,
            extra=env_changes,
        )
        good_env = {k: v for k, v in env.items() if k != "APP_ENV"}
        good_env["JWT_SECRET_KEY"] = settings.secret
        servers.prepare(spec, good_env, _tmp())
        try:
            result = subprocess.run(
                spec.serve,
                cwd=spec.cwd,
                env=env,
                capture_output=True,
                timeout=60,
                check=False,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired as error:
            pytest.fail(f"the service kept running with {env_changes}: {error.stdout!r}")
    return result.returncode, (result.stdout + result.stderr).decode(errors="replace")


def _tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="contract-prepare-"))


@pytest.mark.mode_independent
@pytest.mark.parametrize("secret", [None, "", "too-short-secret-31-bytes-long!"])
def test_production_refuses_to_start_without_a_proper_secret(
    server_factory: ServerFactory, target: Target, secret: str | None
) -> None:
    if secret is not None:
        assert len(secret.encode()) < 32
    code, output = _run_serve(target, {"APP_ENV": "production", "JWT_SECRET_KEY": secret})
    assert code != 0
    assert "JWT_SECRET_KEY" in output


@pytest.mark.mode_independent
def test_sigterm_lets_in_flight_logins_finish(server_factory: ServerFactory) -> None:
    with server_factory(extra_env={"APP_ENV": "production"}, check_exit=False) as server:
        api = Api.of(server)
        # Attempts in flight count towards the throttle until they succeed: no more
        # logins at once per account than LOGIN_MAX_FAILURES.
        accounts = [api.register(login=False) for _ in range(4)]
        connections = []
        for index in range(20):
            account = accounts[index % len(accounts)]
            body = urlencode({"username": account.email, "password": account.password})
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            # Sends the whole request and returns without waiting for the answer.
            conn.request("POST", TOKEN, body, {"Content-Type": "application/x-www-form-urlencoded"})
            connections.append(conn)
        # Sent after the logins on a new connection through the same listening socket:
        # once it is answered, the server has accepted every login connection before it.
        assert api.across_workers.client.get("/health").status_code == 200
        server.process.send_signal(signal.SIGTERM)
        results: list[int | str] = []
        for conn in connections:
            try:
                answer = conn.getresponse()
                response = httpx.Response(
                    answer.status,
                    headers=answer.getheaders(),
                    content=answer.read(),
                    request=httpx.Request("POST", f"{server.base_url}{TOKEN}"),
                )
                get_contract().check_response(response)
                results.append(response.status_code)
            except OSError as error:
                results.append(repr(error))
            finally:
                conn.close()
        code = server.process.wait(timeout=60)
        server.exit_code = code
        api.client.close()
        assert results == [200] * len(connections), server.logs()
        assert code == 0, server.logs()


def test_each_request_is_logged_as_one_json_line(server: RunningServer, api: Api) -> None:
    account = api.register(login=False)
    request_id = f"log-{uuid.uuid4().hex}"
    pair = api.login(account.email, account.password)
    response = api.client.get(
        ME,
        params={"secret": "query-value"},
        headers={"X-Request-ID": request_id, "Authorization": f"Bearer {pair['access_token']}"},
    )
    assert response.status_code == 200

    record = log_entry(server, request_id)
    # One shape in every service: time and level first, then the request's fields.
    assert {"time", "level", "message"} <= set(record)
    assert record["request_id"] == request_id
    assert record["method"] == "GET"
    assert record["path"] == ME
    assert record["status"] == 200
    assert isinstance(record["duration_ms"], int | float)
    assert str(record.get("user_id")) == str(account.id)
    log = server.stdout_path.read_text(errors="replace")
    assert account.password not in log
    assert pair["access_token"] not in log
    assert pair["refresh_token"] not in log
    assert pair["access_token"].split(".")[2] not in log


def test_throttling_window_ends(server_factory: ServerFactory) -> None:
    settings = Settings(window_seconds=3)
    with server_factory(settings=settings) as server:
        api = Api.of(server)
        account = api.register(login=False)
        for _ in range(settings.max_failures):
            assert api.login_response(account.email, "wrong password!").status_code == 401
        throttled = api.login_response(account.email, account.password)
        assert throttled.status_code == 429
        retry_after = int(throttled.headers["retry-after"])
        assert 1 <= retry_after <= 3
        time.sleep(retry_after + 0.5)
        assert api.login_response(account.email, account.password).status_code == 200
        # The count starts again.
        for _ in range(settings.max_failures):
            assert api.login_response(account.email, "wrong password!").status_code == 401
        assert api.login_response(account.email, account.password).status_code == 429
        api.client.close()


@pytest.mark.mode_independent
def test_the_server_needs_no_home_directory(server_factory: ServerFactory) -> None:
    # The images run with a HOME the service cannot write; nothing at start may need it
    # (gunicorn's control socket would go to ~/.gunicorn and log an error).
    with (
        server_factory(extra_env={"HOME": "/dev/null"}) as server,
        make_client(server.base_url) as client,
    ):
        assert client.get("/ready").status_code == 200
        started = server.stderr_path.read_text(errors="replace") + "\n".join(server.stdout_lines())
        assert "error" not in started.lower(), server.logs()
