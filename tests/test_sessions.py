"""Sessions: one per login (refresh-token family), listed and ended by their owner."""

from __future__ import annotations

from helpers import SESSIONS, Account, Api, bearer


def _login_as(api: Api, account: Account, agent: str) -> dict[str, str]:
    response = api.login_response(account.email, account.password, headers={"User-Agent": agent})
    assert response.status_code == 200
    pair: dict[str, str] = response.json()
    return pair


def _sessions(api: Api, access: str) -> list[dict[str, object]]:
    response = api.client.get(SESSIONS, headers=bearer(access))
    assert response.status_code == 200
    listed: list[dict[str, object]] = response.json()
    return listed


def test_each_login_is_a_session_newest_first_with_the_callers_marked(api: Api) -> None:
    account = api.register(login=False)
    laptop = _login_as(api, account, "laptop-browser")
    phone = _login_as(api, account, "phone-app")
    listed = _sessions(api, phone["access_token"])
    assert [s["user_agent"] for s in listed] == ["phone-app", "laptop-browser"]
    assert [s["current"] for s in listed] == [True, False]
    assert all(s["ip"] == "127.0.0.1" for s in listed)
    assert [s["current"] for s in _sessions(api, laptop["access_token"])] == [False, True]


def test_a_refresh_keeps_the_session_and_moves_last_used_at(api: Api) -> None:
    account = api.register(login=False)
    pair = _login_as(api, account, "agent")
    [before] = _sessions(api, pair["access_token"])
    renewed = api.refresh(pair["refresh_token"]).json()
    [after] = _sessions(api, renewed["access_token"])
    assert after["id"] == before["id"]
    assert after["created_at"] == before["created_at"]
    assert str(after["last_used_at"]) >= str(before["last_used_at"])
    assert after["current"] is True


# --8<-- [start:ending_one]
def test_ending_one_session_stops_its_tokens_at_once_and_no_other(api: Api) -> None:
    account = api.register(login=False)
    lost = _login_as(api, account, "lost-phone")
    kept = _login_as(api, account, "laptop")
    [lost_session] = [s for s in _sessions(api, kept["access_token"]) if not s["current"]]
    ended = api.client.delete(
        f"{SESSIONS}/{lost_session['id']}", headers=bearer(kept["access_token"])
    )
    assert ended.status_code == 204
    assert api.me(lost["access_token"]).status_code == 401
    assert api.refresh(lost["refresh_token"]).status_code == 401
    assert api.me(kept["access_token"]).status_code == 200
    assert len(_sessions(api, kept["access_token"])) == 1
    again = api.client.delete(
        f"{SESSIONS}/{lost_session['id']}", headers=bearer(kept["access_token"])
    )
    assert again.status_code == 404
    # --8<-- [end:ending_one]


def test_another_users_session_is_not_found(api: Api) -> None:
    owner, other = api.register(), api.register()
    [owned] = _sessions(api, owner.access)
    response = api.client.delete(f"{SESSIONS}/{owned['id']}", headers=other.headers)
    assert response.status_code == 404
    assert api.me(owner.access).status_code == 200
    unknown = api.client.delete(f"{SESSIONS}/no-such-session", headers=other.headers)
    assert unknown.status_code == 404


def test_ending_every_session_includes_the_callers(api: Api) -> None:
    account = api.register(login=False)
    first = _login_as(api, account, "one")
    second = _login_as(api, account, "two")
    assert api.client.delete(SESSIONS, headers=bearer(second["access_token"])).status_code == 204
    for pair in (first, second):
        assert api.me(pair["access_token"]).status_code == 401
        assert api.refresh(pair["refresh_token"]).status_code == 401
    assert _sessions(api, api.relogin(account).access)[0]["current"] is True


def test_a_logout_ends_its_session(api: Api) -> None:
    account = api.register(login=False)
    gone = _login_as(api, account, "gone")
    stays = _login_as(api, account, "stays")
    assert api.logout(gone["access_token"], gone["refresh_token"]).status_code == 204
    assert [s["user_agent"] for s in _sessions(api, stays["access_token"])] == ["stays"]
