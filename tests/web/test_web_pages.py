"""Web shell without a browser: login, CSRF, throttling, redirects, logout, map and placeholders."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from matplotlib.image import imsave

from fangxun.audit.service import SystemActor
from fangxun.config import Settings, load_settings
from fangxun.db import make_engine, session_scope
from fangxun.org import service as org_service
from fangxun.org.models import Role
from fangxun.org.schemas import UserCreate
from fangxun.web.auth import SESSION_COOKIE, WebSession, cookie_is_secure, write_session
from fangxun.web.nav import SECTIONS
from web_harness import csrf_of

LoginFn = Callable[..., Response]
BOUNDS = [[34.76, 113.50], [34.84, 113.59]]


def install_tiny_hillshade(settings: Settings, meta: object | None = None) -> None:
    """A 4×4 grey PNG with bounds, where the demo writes its hillshade."""
    folder = settings.data_dir / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    imsave(folder / "hillshade.png", np.linspace(0, 1, 16).reshape(4, 4), cmap="gray")
    payload = {"bounds": BOUNDS} if meta is None else meta
    (folder / "hillshade.json").write_text(json.dumps(payload), encoding="utf-8")


# --- login page and language -------------------------------------------------------------------


def test_login_page_renders_in_chinese_by_default(web_client: TestClient) -> None:
    response = web_client.get("/login")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="zh-CN">' in html
    assert "用户名" in html and "密码" in html and ">登录<" in html
    assert "Username" not in html
    # An anonymous session starts here: it carries the form's CSRF token.
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # the test environment runs on plain HTTP
    assert response.headers["cache-control"] == "no-store"


def test_login_page_renders_in_english_and_remembers_it(web_client: TestClient) -> None:
    response = web_client.get("/login?lang=en")
    assert response.status_code == 200
    assert '<html lang="en">' in response.text
    assert "Username" in response.text and "Password" in response.text
    assert "用户名" not in response.text
    assert web_client.cookies.get("lang") == "en"
    # The cookie keeps English on the next page without the query parameter.
    again = web_client.get("/login")
    assert "Username" in again.text
    # And the switch back to Chinese works the same way.
    assert "用户名" in web_client.get("/login?lang=zh").text


# --- CSRF --------------------------------------------------------------------------------------


def test_login_post_without_csrf_token_is_rejected(
    web_client: TestClient, credentials: tuple[str, str]
) -> None:
    username, password = credentials
    web_client.get("/login")  # a session exists, the form field is missing
    response = web_client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 403
    assert "表单安全校验失败" in response.text
    assert "csrf_token" in response.text  # says which field was missing
    assert web_client.get("/map").status_code == 303  # and nobody got logged in


def test_login_post_with_wrong_csrf_token_is_rejected(
    web_client: TestClient, credentials: tuple[str, str]
) -> None:
    username, password = credentials
    web_client.get("/login?lang=en")
    response = web_client.post(
        "/login", data={"username": username, "password": password, "csrf_token": "x" * 43}
    )
    assert response.status_code == 403
    assert "Form security check failed" in response.text
    assert "does not match" in response.text


def test_login_post_without_any_session_is_rejected(
    web_client: TestClient, credentials: tuple[str, str]
) -> None:
    username, password = credentials
    response = web_client.post(
        "/login", data={"username": username, "password": password, "csrf_token": "x" * 43}
    )
    assert response.status_code == 403
    assert "no session cookie" in response.text


def test_tampered_session_cookie_is_ignored(web_client: TestClient, login: LoginFn) -> None:
    assert login(web_client).status_code == 303
    value = web_client.cookies[SESSION_COOKIE]
    web_client.cookies.set(SESSION_COOKIE, value[:-2] + ("A" if value[-2] != "A" else "B") + "x")
    assert web_client.get("/map").status_code == 303


# --- login, wrong password, throttling ---------------------------------------------------------


def test_wrong_password_shows_a_message(
    web_client: TestClient, login: LoginFn, credentials: tuple[str, str]
) -> None:
    username = credentials[0]
    response = login(web_client, password="not-the-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert f'value="{username}"' in response.text  # the username stays filled in
    assert web_client.get("/map").status_code == 303


def test_empty_form_asks_for_both_fields(web_client: TestClient, login: LoginFn) -> None:
    response = login(web_client, username=" ", password="")
    assert response.status_code == 400
    assert "请输入用户名和密码" in response.text


def test_login_is_throttled_after_repeated_failures(
    web_client: TestClient, web_settings: Settings, login: LoginFn
) -> None:
    for _ in range(web_settings.login_max_attempts):
        assert login(web_client, password="wrong-password").status_code == 401
    response = login(web_client, password="wrong-password")
    assert response.status_code == 429
    assert "登录失败次数过多" in response.text
    assert re.search(r"请 \d+ 分钟后再试", response.text)
    # Even the right password is refused while throttled: the form goes through the same service.
    assert login(web_client).status_code == 429


def test_login_lands_on_the_map(
    web_client: TestClient, login: LoginFn, credentials: tuple[str, str]
) -> None:
    username = credentials[0]
    response = login(web_client)
    assert response.status_code == 303
    assert response.headers["location"] == "/map"
    page = web_client.get("/map")
    assert page.status_code == 200
    html = page.text
    assert 'id="map"' in html and "/static/vendor/leaflet/leaflet.js" in html
    assert "/static/js/map.js" in html
    assert username in html and "防汛办" in html  # user and role in the top bar
    assert "退出" in html  # logout
    for label in ("一张图", "雨情水情", "隐患台账", "应急响应", "物资队伍"):
        assert label in html
    assert "系统管理" not in html  # administration is for the admin role only
    # The start page redirects to the map once logged in.
    home = web_client.get("/")
    assert (home.status_code, home.headers["location"]) == (303, "/map")
    # And the login page sends a logged-in user on.
    assert web_client.get("/login").headers["location"] == "/map"


def test_login_returns_to_the_page_asked_for(web_client: TestClient, login: LoginFn) -> None:
    first = web_client.get("/hazards")
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=%2Fhazards"
    response = login(web_client, next_path="/hazards")
    assert response.headers["location"] == "/hazards"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
def test_login_never_redirects_off_site(
    web_client: TestClient, target: str, login: LoginFn
) -> None:
    response = login(web_client, next_path=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/map"


# --- not logged in -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/", "/login"),
        ("/map", "/login?next=%2Fmap"),
        ("/duty", "/login?next=%2Fduty"),
        ("/web/basemap/hillshade.png", "/login?next=%2Fweb%2Fbasemap%2Fhillshade.png"),
    ],
)
def test_pages_redirect_to_login_when_not_logged_in(
    web_client: TestClient, path: str, location: str
) -> None:
    response = web_client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == location


def test_htmx_request_gets_a_full_page_redirect(web_client: TestClient) -> None:
    response = web_client.get("/map", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/login?next=%2Fmap"


# --- logout ------------------------------------------------------------------------------------


def test_logout_ends_the_session_on_the_server(web_client: TestClient, login: LoginFn) -> None:
    login(web_client)
    page = web_client.get("/map")
    old_cookie = web_client.cookies[SESSION_COOKIE]
    response = web_client.post("/logout", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?logged_out=1"
    assert SESSION_COOKIE not in web_client.cookies
    assert "您已退出登录" in web_client.get("/login?logged_out=1").text
    assert web_client.get("/map").status_code == 303
    # The old cookie, replayed, is worthless: its token was revoked.
    web_client.cookies.set(SESSION_COOKIE, old_cookie)
    assert web_client.get("/map").status_code == 303


def test_logout_without_csrf_token_is_rejected(web_client: TestClient, login: LoginFn) -> None:
    login(web_client)
    response = web_client.post("/logout", data={})
    assert response.status_code == 403
    assert "表单安全校验失败" in response.text
    assert web_client.get("/map").status_code == 200  # still logged in


def test_csrf_token_in_the_htmx_header_is_accepted(web_client: TestClient, login: LoginFn) -> None:
    login(web_client)
    token = csrf_of(web_client.get("/map"))
    response = web_client.post("/logout", headers={"X-CSRF-Token": token})
    assert response.status_code == 303
    assert web_client.get("/map").status_code == 303


def test_deactivated_user_is_logged_out(
    web_client: TestClient, web_settings: Settings, login: LoginFn, credentials: tuple[str, str]
) -> None:
    username = credentials[0]
    login(web_client)
    engine = make_engine(web_settings.database_url)
    try:
        with session_scope(engine) as session:
            user = org_service.get_user_by_username(session=session, username=username)
            assert user is not None
            user.is_active = False
    finally:
        engine.dispose()
    assert web_client.get("/map").status_code == 303


# --- placeholders ------------------------------------------------------------------------------


def test_unbuilt_sections_show_a_coming_page(web_client: TestClient, login: LoginFn) -> None:
    login(web_client)
    for section in SECTIONS:
        if section.built or section.roles is not None:
            continue
        response = web_client.get(section.path)
        assert response.status_code == 200, section.slug
        assert "建设中" in response.text, section.slug
        assert 'data-testid="placeholder"' in response.text
    unbuilt = [s for s in SECTIONS if not s.built and s.roles is None]
    if unbuilt:  # every section may be built by now
        english = web_client.get(f"{unbuilt[0].path}?lang=en")
        assert "Coming" in english.text and unbuilt[0].label in english.text


def test_admin_section_is_hidden_from_other_roles(web_client: TestClient, login: LoginFn) -> None:
    login(web_client)
    assert web_client.get("/admin").status_code == 404


def test_admin_sees_the_admin_section(
    web_client: TestClient, web_settings: Settings, login: LoginFn, credentials: tuple[str, str]
) -> None:
    password = credentials[1]
    engine = make_engine(web_settings.database_url)
    try:
        with session_scope(engine) as session:
            org_service.create_user(
                session=session,
                user_in=UserCreate(username="fxadmin", password=password, role=Role.admin),
                actor=SystemActor(username="web-tests"),
            )
    finally:
        engine.dispose()
    login(web_client, username="fxadmin")
    response = web_client.get("/admin")
    assert response.status_code == 200
    assert "系统管理" in response.text and "系统管理员" in response.text


# --- map and basemap ---------------------------------------------------------------------------


def _map_config(html: str) -> dict[str, object]:
    match = re.search(r'<script type="application/json" id="map-config">(.*?)</script>', html, re.S)
    assert match, "no map config in the page"
    config = json.loads(match.group(1))
    assert isinstance(config, dict)
    return config


def test_map_without_basemap_files_shows_a_notice(web_client: TestClient, login: LoginFn) -> None:
    login(web_client)
    html = web_client.get("/map").text
    assert 'data-testid="basemap-notice"' in html
    assert "无离线底图" in html
    config = _map_config(html)
    assert config["hillshade"] is None and config["tiles"] is None
    assert web_client.get("/web/basemap/hillshade.png").status_code == 404


def test_map_with_demo_hillshade(
    web_client: TestClient, web_settings: Settings, login: LoginFn
) -> None:
    install_tiny_hillshade(web_settings)
    login(web_client)
    html = web_client.get("/map").text
    assert 'data-testid="basemap-notice"' not in html
    config = _map_config(html)
    assert config["hillshade"] == {
        "url": "/web/basemap/hillshade.png",
        "bounds": BOUNDS,
        "synthetic": True,
    }
    labels = config["labels"]
    assert isinstance(labels, dict) and labels["terrain"] == "合成地形（演示）"
    png = web_client.get("/web/basemap/hillshade.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    assert web_client.get("/web/basemap/hillshade.json").json() == {"bounds": BOUNDS}
    english = _map_config(web_client.get("/map?lang=en").text)
    assert english["labels"]["terrain"] == "Synthetic terrain (demo)"  # type: ignore[index]


def test_map_with_broken_hillshade_metadata_says_what_is_wrong(
    web_client: TestClient, web_settings: Settings, login: LoginFn
) -> None:
    install_tiny_hillshade(web_settings, meta={"bounds": [[95.0, 113.5], [34.8, 113.6]]})
    login(web_client)
    html = web_client.get("/map").text
    assert "离线底图无法读取" in html and "hillshade.json" in html and "latitudes" in html
    assert _map_config(html)["hillshade"] is None


def test_online_tiles_when_configured(tmp_path: Path, web_db: str, login: LoginFn) -> None:
    from fangxun.api.app import create_app

    settings = load_settings(
        environment="test",
        database_url=web_db,
        data_dir=tmp_path / "data",
        secret_key="web-tests-secret-key-0123456789abcdef",
        basemap_url="https://tiles.example.org/{z}/{x}/{y}.png",
    )
    with TestClient(create_app(settings), follow_redirects=False) as client:
        login(client)
        config = _map_config(client.get("/map").text)
    tiles = config["tiles"]
    assert isinstance(tiles, dict)
    assert tiles["url"] == "https://tiles.example.org/{z}/{x}/{y}.png"
    assert "tiles.example.org" in tiles["attribution"]


# --- cookie flags ------------------------------------------------------------------------------


def test_session_cookie_is_secure_in_production() -> None:
    from starlette.responses import Response as StarletteResponse

    production = load_settings(environment="production", secret_key="p" * 40)
    assert cookie_is_secure(production)
    response = StarletteResponse()
    write_session(response, WebSession(csrf="c" * 43), production)
    cookie = response.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    for env in ("development", "demo", "test"):
        assert not cookie_is_secure(load_settings(environment=env))
