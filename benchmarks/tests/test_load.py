"""wrk with the scenarios' Lua scripts, against a loopback server that records the requests."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
from conftest import Seen, StubServer

from bench.load import parse_output, run_wrk

SECONDS = 1


def test_parse_output_reads_the_done_line() -> None:
    stdout = (
        "Running 1s test @ http://127.0.0.1:1/health\n"
        'BENCH_RESULT {"requests": 200, "duration_us": 2000000, "bytes": 1, '
        '"errors": {"connect": 1, "read": 2, "write": 0, "status": 5, "timeout": 3}, '
        '"latency_us": {"p50": 1500.0, "p90": 2000.0, "p99": 9000.0, "mean": 1600.0, '
        '"max": 12000.0}, "statuses": {"200": 195, "503": 5}}\n'
    )
    result = parse_output(stdout)
    assert result.rps == 100.0
    assert (result.p50_ms, result.p99_ms) == (1.5, 9.0)
    assert result.non_2xx == 5
    # wrk's own "status" count (answers >= 400) is already in the statuses.
    assert result.socket_errors == 6
    assert result.errors == 11


def test_parse_output_without_a_result_fails() -> None:
    with pytest.raises(ValueError, match="BENCH_RESULT"):
        parse_output("Running 1s test\n")


def test_get_sends_every_token_round_robin(stub_server: StubServer) -> None:
    result = run_wrk(
        stub_server.url + "/api/v1/users/me",
        script="get",
        args=["token-a", "token-b", "token-c"],
        connections=2,
        seconds=SECONDS,
    )
    seen = {headers.get("authorization") for _, _, headers, _ in stub_server.seen.requests}
    assert seen == {"Bearer token-a", "Bearer token-b", "Bearer token-c"}
    assert result.requests > 0
    assert result.statuses == {"200": result.requests}
    assert result.errors == 0


@pytest.mark.parametrize(
    "stub_server",
    [lambda _seen, _path, _headers, _body: (503, b'{"status": 503}')],
    indirect=True,
)
def test_non_2xx_answers_are_errors(stub_server: StubServer) -> None:
    result = run_wrk(stub_server.url, script="get", args=[], connections=1, seconds=SECONDS)
    assert result.requests > 0
    assert result.non_2xx == result.requests
    assert result.errors >= result.requests


def test_login_posts_each_form_round_robin(stub_server: StubServer) -> None:
    forms = [f"grant_type=password&username=u{i}%40example.com&password=pw" for i in range(3)]
    run_wrk(stub_server.url, script="login", args=forms, connections=2, seconds=SECONDS)
    users = set()
    for method, _, headers, body in stub_server.seen.requests:
        assert method == "POST"
        assert headers["content-type"] == "application/x-www-form-urlencoded"
        users.add(parse_qs(body.decode())["username"][0])
    assert users == {"u0@example.com", "u1@example.com", "u2@example.com"}


def rotate(seen: Seen, _path: str, _headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """Single-use tokens: each answer names the next one; a spent token is a 401."""
    token = json.loads(body)["refresh_token"]
    spent = seen.state.setdefault("spent", set())
    assert isinstance(spent, set)
    if token in spent or not token.startswith("start-"):
        return 401, b'{"status": 401}'
    spent.add(token)
    successor = f"{token.split('-next-')[0]}-next-{len(spent)}"
    return 200, json.dumps({"access_token": "a", "refresh_token": successor}).encode()


@pytest.mark.parametrize("stub_server", [rotate], indirect=True)
def test_refresh_follows_one_chain_per_connection(stub_server: StubServer) -> None:
    result = run_wrk(
        stub_server.url + "/api/v1/auth/refresh",
        script="refresh",
        args=["start-1", "start-2", "start-3"],
        connections=3,
        seconds=SECONDS,
    )
    assert result.requests > 10
    assert result.statuses == {"200": result.requests}
    firsts = {
        json.loads(body)["refresh_token"].split("-next-")[0]
        for _, _, _, body in stub_server.seen.requests
    }
    assert firsts == {"start-1", "start-2", "start-3"}


def test_only_loopback_is_loaded() -> None:
    with pytest.raises(ValueError, match="loopback"):
        run_wrk("http://192.0.2.1/", script="get", args=[], connections=1, seconds=1)
