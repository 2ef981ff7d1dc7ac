"""The rest of deploy/, run or checked here: the systemd units through systemd-analyze, the env
example as systemd and a shell read it, the compose file through `compose config` and its
structure (there is no Docker engine here, so nothing is started),
the backup script for real against PostgreSQL with the restore it documents, and the Grafana
dashboard's PromQL against the metrics the code defines.

The backup needs PostgreSQL, so it uses the test PostgreSQL server in the SQLite pass too."""

import json
import os
import re
import shlex
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from bot import metrics as bot_metrics
from bot.cli import main as sidan_cli
from scheduler import metrics as scheduler_metrics
from tests.deploy_support import (
    DEPLOY,
    OPT,
    ROOT,
    VENV_BIN,
    ScratchDatabase,
    env_example,
    local_path,
    read_unit,
)

UNITS = ["sidan-web.service", "sidan-scheduler@.service", "sidan-backup.service",
         "sidan-backup.timer"]  # fmt: skip
SOURCES = [*ROOT.glob("bot/**/*.py"), *ROOT.glob("scheduler/*.py"), *ROOT.glob("models/*.py"),
           *ROOT.glob("handlers/*.py"), DEPLOY / "gunicorn.conf.py",
           DEPLOY / "backup" / "sidan-backup.sh"]  # fmt: skip


def test_systemd_analyze_verifies_the_units(tmp_path):
    env_file = tmp_path / "sidan.env"
    env_file.write_text((DEPLOY / "sidan.env.example").read_text())
    names = []
    for name in UNITS:
        text = (DEPLOY / "systemd" / name).read_text()
        text = text.replace(f"{OPT}/.venv/bin/", f"{VENV_BIN}/").replace(OPT, str(ROOT))
        text = text.replace("/etc/sidan/sidan.env", str(env_file))
        # A template is verified through an instance, as `systemctl enable sidan-scheduler@1`.
        name = name.replace("@.", "@1.")
        (tmp_path / name).write_text(text)
        names.append(str(tmp_path / name))

    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *names],
                            capture_output=True, text=True, cwd=tmp_path)  # fmt: skip

    # Unknown keys, bad values and ExecStart commands that do not exist all print here.
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stderr


def test_the_units_run_commands_that_exist_with_the_same_env_file():
    for name in ("sidan-web.service", "sidan-scheduler@.service", "sidan-backup.service"):
        service = read_unit(name)["Service"]
        argv = shlex.split(service["ExecStart"][0])
        assert Path(local_path(argv[0])).is_file() and os.access(local_path(argv[0]), os.X_OK)
        assert service["EnvironmentFile"] == ["/etc/sidan/sidan.env"]
        assert service["User"] == ["sidan"]
        if argv[0].endswith("/sidan"):  # a `sidan` subcommand with options it has
            command = sidan_cli.commands[argv[1]]
            options = {opt for param in command.params for opt in param.opts}
            assert {arg for arg in argv[2:] if arg.startswith("--")} <= options
            assert all(Path(local_path(arg)).is_file() for arg in argv if arg.endswith(".py"))
    timer = read_unit("sidan-backup.timer")
    assert timer["Timer"]["OnCalendar"] == ["*-*-* 02:30:00"]
    # What the hardened units may write covers every path the env file points them at.
    writable = read_unit("sidan-web.service")["Service"]["ReadWritePaths"][0].split()
    example = env_example()
    for key in ("MEDIA_ROOT", "SIDAN_VAR_DIR", "PROMETHEUS_MULTIPROC_DIR"):
        assert any(example[key].startswith(path) for path in writable), key


def test_every_setting_in_the_env_example_is_one_the_code_reads():
    code = "\n".join(path.read_text() for path in SOURCES)
    unread = [key for key in env_example() if f'"{key}"' not in code and "${" + key not in code
              and f"{{{key}:" not in code]  # fmt: skip
    assert unread == []


def test_a_shell_reads_the_env_example_as_systemd_does():
    # docs/operations.md runs one-off commands with `set -a; . /etc/sidan/sidan.env`.
    script = f"set -a; . {DEPLOY / 'sidan.env.example'}; " + "; ".join(
        f'printf "%s\\0" "${key}"' for key in env_example()
    )  # fmt: skip
    shell = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env={})
    assert shell.returncode == 0, shell.stderr
    assert dict(zip(env_example(), shell.stdout.split("\0")[:-1], strict=True)) == env_example()
    assert json.loads(env_example()["WECHAT_TEMPLATE_IDS"])["notice"]


def test_the_compose_file_holds_the_whole_deployment():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "pgbouncer", "redis", "web", "scheduler-1",
                             "scheduler-2", "nginx"}  # fmt: skip
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    [cmd] = re.findall(r"^CMD (\[.*\])$", dockerfile, re.M)
    sidan_services = ["web", "scheduler-1", "scheduler-2"]
    for name in sidan_services:
        service = services[name]
        build = service["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
        argv = service.get("command", json.loads(cmd))
        assert argv[0] == "sidan" and argv[1] in sidan_cli.commands
        for arg in argv:
            if arg.endswith(".py"):
                assert (ROOT / arg).is_file(), arg  # the image's WORKDIR is the checkout
        env = service["environment"]
        assert env["DATABASE_URL"].split("@")[1].startswith("pgbouncer:6432/")
        assert env["REDIS_URL"].startswith("redis://redis:6379/")
        assert env["MEDIA_ROOT"] == "/var/lib/sidan/media"
        assert "media:/var/lib/sidan/media" in service["volumes"]  # shared by every container
        assert service["env_file"] == "sidan.env" and int(env["DB_POOL_SIZE"]) > 0
        for dependency, condition in service["depends_on"].items():
            assert condition == {"condition": "service_healthy"}
            assert "healthcheck" in services[dependency]
    assert [services[n]["command"] for n in ("scheduler-1", "scheduler-2")] == [
        ["sidan", "scheduler"]
    ] * 2
    assert services["web"]["environment"]["SIDAN_BIND"] == "0.0.0.0:8000"
    # nginx uses the same site file, its upstream rewritten to the web service's port.
    site_volume = services["nginx"]["volumes"][0].split(":")
    assert (DEPLOY / site_volume[0]).resolve() == DEPLOY / "nginx" / "sidan.conf"
    shell = services["nginx"]["command"][2]
    old, new, source = re.fullmatch(
        r"sed 's/(.*?)/(.*?)/' (\S+) > (\S+) && exec nginx -g 'daemon off;'", shell
    ).group(1, 2, 3)
    assert source == site_volume[1]
    site = (DEPLOY / "nginx" / "sidan.conf").read_text()
    assert site.count(old) == 1 and new == "server web:8000;"
    assert services["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"
    assert "noeviction" in services["redis"]["command"]
    assert set(compose["volumes"]) == {"pgdata", "redisdata", "media"}
    assert (
        "cp deploy/sidan.env.example deploy/sidan.env"
        in (DEPLOY / "docker-compose.yml").read_text()
    )


def compose_command() -> list[str]:
    """The compose plugin when the docker CLI has it, else Debian's docker-compose: both check
    a file against the compose schema with `config`, without a Docker engine."""
    if shutil.which("docker"):
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if plugin.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"]


def test_compose_validates_the_file_against_its_schema(tmp_path):
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "docker-compose.yml").write_text((DEPLOY / "docker-compose.yml").read_text())
    # The operator's copy of the env example, as the file's header says.
    (deploy / "sidan.env").write_text((DEPLOY / "sidan.env.example").read_text())

    check = subprocess.run([*compose_command(), "-f", "docker-compose.yml", "config"],
                           cwd=deploy, capture_output=True, text=True)  # fmt: skip

    assert check.returncode == 0, check.stderr
    resolved = yaml.safe_load(check.stdout)["services"]
    assert resolved["web"]["environment"]["WECHAT_TEMPLATE_IDS"].startswith('{"notice"')
    assert resolved["scheduler-2"]["command"] == ["sidan", "scheduler"]


@pytest.fixture
def scratch_databases():
    made = []

    def make(label: str) -> ScratchDatabase:
        made.append(ScratchDatabase(label).create())
        return made[-1]

    yield make
    for database in made:
        database.drop()


def sidan(*args: str, database_url: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIDAN_", "PROMETHEUS"))}
    env.update(DATABASE_URL=database_url, LOG_FORMAT="text", LOG_LEVEL="WARNING")
    done = subprocess.run([str(VENV_BIN / "sidan"), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_backup_script_dumps_and_the_documented_restore_brings_everything_back(
    tmp_path, scratch_databases
):
    live = scratch_databases("backup")
    sidan("init-db", database_url=live.url)
    sidan("seed-demo", "--history", database_url=live.url)
    media = tmp_path / "media"
    (media / "ab").mkdir(parents=True)
    (media / "ab" / "photo.jpg").write_bytes((ROOT / "docs/samples/lamp.jpg").read_bytes())
    backups = tmp_path / "backups"
    backups.mkdir()
    stale = backups / "sidan-20000101T000000Z.dump"
    stale.write_bytes(b"old")
    month_ago = time.time() - 30 * 86400
    os.utime(stale, (month_ago, month_ago))

    env = {
        "PATH": os.environ["PATH"],
        # DATABASE_URL is PgBouncer's (a pooled port that pg_dump cannot use): the script
        # must take BACKUP_DATABASE_URL, as the env example sets it.
        "DATABASE_URL": "postgresql://sidan@127.0.0.1:1/pgbouncer",
        "BACKUP_DATABASE_URL": live.url,
        "BACKUP_DIR": str(backups),
        "MEDIA_ROOT": str(media),
    }
    run = subprocess.run([str(DEPLOY / "backup" / "sidan-backup.sh")], env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip

    assert run.returncode == 0, run.stderr
    [dump] = backups.glob("sidan-2*.dump")
    assert run.stdout.strip() == f"backup written: {dump}"
    assert not stale.exists()  # older than the 14 days kept
    [photos] = backups.glob("media-*.tar.gz")
    with tarfile.open(photos) as archive:
        assert "./ab/photo.jpg" in archive.getnames()

    # The restore of docs/operations.md: createdb, pg_restore --no-owner, sidan init-db.
    operations = (ROOT / "docs" / "operations.md").read_text()
    assert "pg_restore --no-owner -U postgres -d sidan_restored" in operations
    restored = scratch_databases("restored")
    restore = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "-d", restored.url,
                              str(dump)], capture_output=True, text=True)  # fmt: skip
    assert restore.returncode == 0, restore.stderr
    assert "up to date" in sidan("init-db", database_url=restored.url)

    counts = live.row_counts()
    assert counts["ticket"] > 100 and counts["user"] > 0 and counts["ticket_event"] > 0
    assert restored.row_counts() == counts
    ids = "SELECT max(id), sum(id) FROM ticket"
    assert restored.query(ids) == live.query(ids)
    # The restored database takes new rows: its id sequences came back too.
    nextval = "SELECT nextval(pg_get_serial_sequence('ticket', 'id'))"
    assert restored.query(nextval)[0][0] > live.query(ids)[0][0]


# -- the Grafana dashboard -------------------------------------------------------------------

PROMQL_FUNCTIONS = {"rate", "irate", "increase", "sum", "max", "min", "avg", "count",
                    "histogram_quantile", "topk", "delta", "deriv", "abs", "clamp_min"}  # fmt: skip
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                   "and", "or", "unless", "offset"}  # fmt: skip


def defined_metrics() -> dict[str, tuple[str, set[str]]]:
    """Every sample name the code exposes → (metric type, label names)."""
    samples = {}
    for module in (bot_metrics, scheduler_metrics):
        for value in vars(module).values():
            if not isinstance(value, MetricWrapperBase):
                continue
            labels = set(value._labelnames)
            name, kind = value._name, value._type
            if kind == "counter":
                samples[f"{name}_total"] = (kind, labels)
            elif kind == "histogram":
                for suffix in ("_bucket", "_count", "_sum"):
                    samples[name + suffix] = (kind, labels | ({"le"} if suffix == "_bucket"
                                                              else set()))  # fmt: skip
            else:
                samples[name] = (kind, labels)
    return samples


def parse_promql(expr: str) -> tuple[list[tuple[str, set[str]]], set[str], list[str]]:
    """(metric selectors with the labels they match on, labels grouped by, other names)."""
    selectors = []
    grouped: set[str] = set()
    text = re.sub(r"\[\d+[smhd]\]", "", expr)  # range selectors

    def selector(match):
        matchers = match.group(2) or ""
        labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"", matchers))
        assert re.fullmatch(r"\{?(\s*\w+\s*(=~|!~|!=|=)\s*\"[^\"]*\"\s*,?)*\}?", matchers), expr
        selectors.append((match.group(1), labels))
        return " "

    def grouping(match):
        grouped.update(label.strip() for label in match.group(2).split(",") if label.strip())
        return " "

    text = re.sub(r"\b(by|without)\s*\(([^)]*)\)", grouping, text)
    text = re.sub(r"\b(sidan_\w+)(\{[^}]*\})?", selector, text)
    words = re.findall(r"[A-Za-z_]\w*", text)
    others = [w for w in words if w not in PROMQL_FUNCTIONS and w not in PROMQL_KEYWORDS]
    return selectors, grouped, others


def test_the_parser_sees_a_wrong_metric_or_label():
    selectors, grouped, others = parse_promql(
        'sum by (areaa) (rate(sidan_http_responses_totl{status=~"5.."}[5m])) or up'
    )
    assert selectors == [("sidan_http_responses_totl", {"status"})]
    assert grouped == {"areaa"} and others == ["up"]


def test_every_metric_the_grafana_dashboard_queries_exists_in_the_code():
    dashboard = json.loads((DEPLOY / "grafana" / "sidan.json").read_text())
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus"  # importable with a data source
    metrics = defined_metrics()
    queried = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}" and panel["targets"], panel
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        for target in panel["targets"]:
            selectors, grouped, others = parse_promql(target["expr"])
            assert selectors and others == [], target["expr"]
            labels_of_query = set()
            for name, labels in selectors:
                assert name in metrics, f"{name} is not defined in bot/ or scheduler/metrics.py"
                known = metrics[name][1]
                assert labels <= known, (name, labels - known)
                labels_of_query |= known
                queried.add(name)
            assert grouped <= labels_of_query, (target["expr"], grouped - labels_of_query)
            for label in re.findall(r"\{\{(\w+)\}\}", target.get("legendFormat", "")):
                assert label in grouped, (target["expr"], label)
    # Every metric family the code defines has a panel.
    families = {re.sub(r"_(bucket|count|sum)$", "", name) for name in metrics}
    charted = {re.sub(r"_(bucket|count|sum)$", "", name) for name in queried}
    assert families <= charted, f"no panel in deploy/grafana/sidan.json for {families - charted}"
