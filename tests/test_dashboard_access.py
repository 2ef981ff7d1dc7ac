"""Who may open the dashboard: one-time links from chat, sessions, subtrees, exports, 每月一题."""

import csv
import io
import re
import time
from urllib.parse import parse_qs, urlparse

import pytest
from openpyxl import load_workbook

from bot.app import create_app
from models import links
from models.demo_history import seed_history
from models.figures_lists import drill
from models.org import OrgUnit
from models.tickets import Ticket

LINK = re.compile(r"(https?://\S+/dashboard/login\?t=[\w.\-]+)")


@pytest.fixture(autouse=True)
def _secret(config):
    config.SECRET_KEY = "dashboard-test-secret"
    config.PUBLIC_BASE_URL = "http://sidan.example"
    yield
    links.configure(None)


@pytest.fixture
def client(app):
    return app.test_client()


def link_for(user) -> str:
    """The path and query of a fresh one-time login link (as chat would send it)."""
    url = links.dashboard_link(user)
    parts = urlparse(url)
    return f"{parts.path}?{parts.query}"


def log_in(client, user):
    response = client.get(link_for(user))
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def unit(name: str) -> OrgUnit:
    return OrgUnit.get(OrgUnit.name == name)


def test_supervisor_gets_a_one_time_link_by_sending_da_ping(chat, demo):
    reply = chat("demo_supervisor_1").say("大屏")
    assert "幸福社区的数据大屏" in reply and "只能打开一次" in reply
    url = LINK.search(reply).group(1)
    assert url.startswith("http://sidan.example/dashboard/login?t=")
    assert links.read_login_token(parse_qs(urlparse(url).query)["t"][0])["u"] == (
        demo.supervisor_1.id
    )


def test_dispatcher_gets_a_link_from_the_menu_and_a_resident_is_refused(chat, demo):
    assert LINK.search(chat("demo_dispatcher_1").event("CLICK", "DASHBOARD"))
    reply = chat("demo_resident_1").say("大屏")
    assert "需要网格员、社区工作人员或领导身份" in reply and not LINK.search(reply)


def test_a_link_opens_the_viewers_own_subtree_once(client, demo):
    path = link_for(demo.supervisor_1)
    first = client.get(path)
    assert first.status_code == 302
    assert first.headers["Location"].endswith(f"/dashboard/u/{unit('幸福社区').id}/")
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=" in cookie
    page = client.get(first.headers["Location"])
    assert page.status_code == 200 and "幸福社区" in page.get_data(as_text=True)
    other = client.application.test_client()
    replay = other.get(path)
    assert replay.status_code == 403 and "已经用过" in replay.get_data(as_text=True)


def test_a_forged_or_expired_link_opens_nothing(client, demo):
    assert client.get("/dashboard/login?t=not-a-token").status_code == 403
    forged = links.login_token(demo.supervisor_1.id, 600, secret="someone-elses-secret")
    assert client.get(f"/dashboard/login?t={forged}").status_code == 403
    short = links.login_token(demo.supervisor_1.id, 1)
    time.sleep(2.1)
    assert client.get(f"/dashboard/login?t={short}").status_code == 403


def test_a_link_for_a_resident_opens_nothing(client, demo):
    assert client.get(link_for(demo.resident_1)).status_code == 403


def test_another_subtree_is_forbidden_and_below_is_allowed(client, demo):
    log_in(client, demo.supervisor_1)  # 幸福社区
    assert client.get(f"/dashboard/u/{unit('和平社区').id}/").status_code == 403
    assert client.get(f"/dashboard/u/{unit('东湖街道').id}/").status_code == 403
    assert client.get(f"/dashboard/u/{unit('和平社区').id}/api/rates").status_code == 403
    other = unit("和平社区").id
    assert client.get(f"/dashboard/u/{other}/tickets?metric=open").status_code == 403
    assert client.get(f"/dashboard/u/{unit('幸福一网格').id}/").status_code == 200
    mine = unit("幸福社区").id
    assert client.get(f"/dashboard/u/{mine}/tickets?metric=open&child={other}").status_code == 403


def test_without_a_session_the_page_says_how_to_log_in(client, demo):
    page = client.get(f"/dashboard/u/{unit('幸福社区').id}/")
    assert page.status_code == 401 and "发送“大屏”" in page.get_data(as_text=True)
    api = client.get(f"/dashboard/u/{unit('幸福社区').id}/api/status")
    assert api.status_code == 401 and api.get_json()["error"]["code"] == "unauthorized"


def test_sessions_expire(db, config, demo):
    config.DASHBOARD_SESSION_TTL_S = 1
    client = create_app(config).test_client()
    log_in(client, demo.supervisor_1)
    assert client.get(f"/dashboard/u/{unit('幸福社区').id}/api/status").status_code == 200
    time.sleep(2.1)
    assert client.get(f"/dashboard/u/{unit('幸福社区').id}/api/status").status_code == 401


def test_logging_out_ends_the_session(client, demo):
    log_in(client, demo.supervisor_1)
    page = client.get(f"/dashboard/u/{unit('幸福社区').id}/").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="(\w+)"', page).group(1)
    assert client.post("/dashboard/logout", data={"csrf": "wrong"}).status_code == 403
    assert client.post("/dashboard/logout", data={"csrf": csrf}).status_code == 302
    assert client.get(f"/dashboard/u/{unit('幸福社区').id}/").status_code == 401


def test_the_mini_program_token_reads_panels_and_gets_a_link(client, demo):
    token = client.post("/api/v1/login", json={"code": "dev:demo_supervisor_city"}).get_json()
    bearer = {"Authorization": f"Bearer {token['token']}"}
    city = unit("清河市").id
    status = client.get(f"/dashboard/u/{city}/api/status", headers=bearer)
    assert status.status_code == 200 and status.get_json()["status"]["open"] == 0
    url = client.post("/dashboard/link", headers=bearer).get_json()["url"]
    fresh = client.application.test_client()
    assert fresh.get(urlparse(url).path + "?" + urlparse(url).query).status_code == 302
    resident = client.post("/api/v1/login", json={"code": "dev:demo_resident_1"}).get_json()
    refused = client.get(
        f"/dashboard/u/{city}/api/status", headers={"Authorization": f"Bearer {resident['token']}"}
    )
    assert refused.status_code == 401


def test_every_panel_has_a_json_endpoint(client, demo):
    seed_history(per_day=1)
    log_in(client, demo.supervisor_city)
    city = unit("清河市").id
    for panel in ("rates", "status", "daily", "hotspots", "ranking", "scorecards", "volunteers",
                  "property", "theme"):  # fmt: skip
        body = client.get(f"/dashboard/u/{city}/api/{panel}").get_json()
        assert body["unit"]["name"] == "清河市" and panel in body
    assert client.get(f"/dashboard/u/{city}/api/nothing").status_code == 404


def test_drill_down_lists_mask_names_and_phones_and_export(client, demo):
    seed_history(per_day=1)
    log_in(client, demo.supervisor_city)
    city = unit("清河市")
    title, query = drill(city, "new", "30d")
    expected = query.count()
    assert expected > 10
    page = client.get(f"/dashboard/u/{city.id}/tickets?metric=new&period=30d")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and f'id="list-total">{expected}<' in text
    reporter = Ticket.select().where(Ticket.channel == "demo").first().reporter
    assert reporter.phone not in text and reporter.name not in text
    assert f"{reporter.phone[:3]}****{reporter.phone[-4:]}" in text
    exported = client.get(f"/dashboard/u/{city.id}/tickets.csv?metric=new&period=30d")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(exported.get_data().decode("utf-8-sig"))))
    assert table[0][0] == "工单号" and len(table) == expected + 1
    assert all(reporter.phone not in ",".join(row) for row in table)
    xlsx = client.get(f"/dashboard/u/{city.id}/tickets.xlsx?metric=new&period=30d")
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    assert sheet.max_row == expected + 1 and sheet.cell(1, 3).value == "类别"


def test_bad_drill_down_arguments_get_a_4xx(client, demo):
    log_in(client, demo.supervisor_city)
    city = unit("清河市").id
    assert client.get(f"/dashboard/u/{city}/tickets?metric=nope").status_code == 404
    assert client.get(f"/dashboard/u/{city}/tickets?metric=new&period=2y").status_code == 400
    assert client.get(f"/dashboard/u/{city}/tickets?metric=new&category=x").status_code == 400
    assert client.get(f"/dashboard/u/{city}/tickets?metric=new&compound=1x").status_code == 400
    assert client.get(f"/dashboard/u/{city}/tickets?metric=took").status_code == 400
    assert client.get(f"/dashboard/u/{city}/tickets.pdf?metric=new").status_code == 404
    assert client.get("/dashboard/u/999999/").status_code == 404


def test_a_large_export_runs_in_the_background_with_a_status_line(db, config, demo):
    config.DASHBOARD_EXPORT_SYNC_MAX = 3
    client = create_app(config).test_client()
    seed_history(per_day=1)
    log_in(client, demo.supervisor_city)
    city = unit("清河市")
    expected = drill(city, "new", "30d")[1].count()
    started = client.get(f"/dashboard/u/{city.id}/tickets.xlsx?metric=new&period=30d")
    assert started.status_code == 303
    status_url = started.headers["Location"]
    for _ in range(100):
        job = client.get(status_url + "/status").get_json()
        if job["status"] != "running":
            break
        time.sleep(0.1)
    assert job["status"] == "done" and job["rows"] == expected
    assert "导出完成" in client.get(status_url).get_data(as_text=True)
    sheet = load_workbook(io.BytesIO(client.get(status_url + "/file").get_data())).active
    assert sheet.max_row == expected + 1
    stranger = client.application.test_client()
    log_in(stranger, demo.supervisor_1)
    assert stranger.get(status_url + "/status").status_code == 404


def test_monthly_theme_opens_one_joint_ticket(client, demo):
    seed_history(per_day=1)
    log_in(client, demo.supervisor_city)
    city = unit("清河市")
    page = client.get(f"/dashboard/u/{city.id}/").get_data(as_text=True)
    assert "本月建议：" in page and "幸福里小区 · 消防安全" in page
    csrf = re.search(r'name="csrf" value="(\w+)"', page).group(1)
    form = {"csrf": csrf, "category": "fire_safety", "compound": "1"}
    assert (
        client.post(f"/dashboard/u/{city.id}/theme", data={**form, "csrf": "x"}).status_code == 403
    )
    first = client.post(f"/dashboard/u/{city.id}/theme", data=form)
    number = int(parse_qs(urlparse(first.headers["Location"]).query)["opened"][0])
    ticket = Ticket.get_by_id(number)
    assert ticket.urgency == "hot" and ticket.category == "fire_safety" and ticket.assists.count()
    assert ticket.text.startswith("每月一题：幸福里小区消防安全")
    again = client.post(f"/dashboard/u/{city.id}/theme", data=form)
    assert again.headers["Location"] == first.headers["Location"]
    assert Ticket.select().where(Ticket.channel == "dashboard").count() == 1
