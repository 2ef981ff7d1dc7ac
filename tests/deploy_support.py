"""Reading the deploy recipe (deploy/) as the machines would: systemd units, the env file,
and the nginx site rendered for a test with only the values that must differ substituted.

Every substitution asserts that it found what it replaces, so a deploy file that drifts breaks
the tests instead of being quietly bypassed."""

import os
import re
import shlex
import sys
import uuid
from pathlib import Path

import psycopg2

from tests.conftest import PG_ADMIN_URL, RUN_ID

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
VENV_BIN = Path(sys.executable).parent
OPT = "/opt/sidan"  # where the units and the image install Sidan


def read_unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file: section → key → values (keys may repeat, e.g. Environment=)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in (DEPLOY / "systemd" / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def local_path(path: str) -> str:
    """A path under /opt/sidan as it is in this checkout (the venv is .venv here too)."""
    assert path.startswith(OPT + "/"), f"{path} is not under {OPT}"
    if path.startswith(f"{OPT}/.venv/bin/"):
        return str(VENV_BIN / path.removeprefix(f"{OPT}/.venv/bin/"))
    return str(ROOT / path.removeprefix(OPT + "/"))


def exec_start(unit: str) -> list[str]:
    """The unit's ExecStart, as argv for this checkout."""
    [command] = read_unit(unit)["Service"]["ExecStart"]
    return [local_path(arg) if arg.startswith(OPT + "/") else arg for arg in shlex.split(command)]


def unit_environment(unit: str) -> dict[str, str]:
    """The unit's own Environment= lines (on top of its EnvironmentFile)."""
    env = {}
    for line in read_unit(unit)["Service"].get("Environment", []):
        for pair in shlex.split(line):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def env_example() -> dict[str, str]:
    """deploy/sidan.env.example: what an operator fills in for /etc/sidan/sidan.env."""
    env = {}
    for line in (DEPLOY / "sidan.env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            value = value.strip()
            if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]  # systemd and compose drop the quotes around a value
            env[key.strip()] = value
    return env


def service_env(unit: str, **overrides: str) -> dict[str, str]:
    """What systemd would give the unit's process: the env file, then the unit's Environment=,
    then the test's values. Every overridden name must be one the env file or the unit sets
    (SIDAN_BIND and WECHAT_API_BASE excepted: the address to listen on and the fake WeChat)."""
    example = env_example()
    own = unit_environment(unit)
    stray = set(overrides) - set(example) - set(own) - {"SIDAN_BIND", "WECHAT_API_BASE"}
    assert not stray, f"not in deploy/sidan.env.example: {sorted(stray)}"
    # Nothing of this test process's own configuration leaks in.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SIDAN_", "PROMETHEUS", "WECHAT_", "MINI_", "DATABASE_URL",
                                "REDIS_"))}  # fmt: skip
    env.update(example)
    env.update(own)
    env.update(overrides)
    return env


def substitute(text: str, old: str, new: str, count: int = 1) -> str:
    """Replace `old` (a regex), which must occur exactly `count` times."""
    found = len(re.findall(old, text, flags=re.M))
    assert found == count, f"expected {count} of {old!r} in the deploy file, found {found}"
    return re.sub(old, new, text, flags=re.M)


def render_nginx_site(web_ports: list[int], http_port: int, https_port: int, cert: Path,
                      key: Path) -> str:  # fmt: skip
    """deploy/nginx/sidan.conf with the test's ports, upstreams and certificate."""
    site = (DEPLOY / "nginx" / "sidan.conf").read_text()
    servers = "".join(f"server 127.0.0.1:{port};\n    " for port in web_ports).rstrip()
    site = substitute(site, r"^\s*server 127\.0\.0\.1:8000;.*$", "    " + servers)
    site = substitute(site, r"listen 80;", f"listen 127.0.0.1:{http_port};")
    site = substitute(site, r"listen 443 ", f"listen 127.0.0.1:{https_port} ")
    site = substitute(site, r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};")
    site = substitute(site, r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};")
    return site


def nginx_main_conf(folder: Path, site: Path) -> str:
    """The nginx.conf around the site, as Debian's includes a site inside http { }."""
    return f"""
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log notice;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {folder}/access.log;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {site};
}}
"""


class ScratchDatabase:
    """A database of its own on the test PostgreSQL server, dropped afterwards. The deploy
    needs PostgreSQL (hosts share one database; pg_dump backs it up), so the deploy tests use
    it in the SQLite pass of the suite too."""

    def __init__(self, label: str):
        self.name = f"sidan_{label}_{RUN_ID}_{uuid.uuid4().hex[:4]}"
        self.url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{self.name}"

    def _admin(self, sql: str) -> None:
        admin = psycopg2.connect(PG_ADMIN_URL)
        admin.autocommit = True
        try:
            with admin.cursor() as cur:
                cur.execute(sql)
        finally:
            admin.close()

    def create(self) -> "ScratchDatabase":
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        conn = psycopg2.connect(self.url)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def row_counts(self) -> dict[str, int]:
        tables = [
            t
            for (t,) in self.query(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        return {t: self.query(f'SELECT count(*) FROM "{t}"')[0][0] for t in tables}
