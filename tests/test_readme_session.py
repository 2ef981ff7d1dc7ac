"""The README's API session runs as written: bash and curl against a live server."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

import os
import re
import subprocess
from pathlib import Path

from models.tickets import Ticket
from tests.test_api_support import api_app, api_config  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def block_after(marker: str) -> str:
    """The fenced block that follows an HTML comment marker in the README."""
    match = re.search(rf"<!-- {marker} -->\n```[a-z]*\n(.*?)```", README, re.S)
    assert match, f"no block after <!-- {marker} --> in README.md"
    return match.group(1)


def test_the_readme_api_session_runs_as_written(api_app, demo, live_server_factory):
    base = live_server_factory(api_app)
    script = block_after("api-session")

    run = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=ROOT, env={**os.environ, "SIDAN_URL": base},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert run.returncode == 0, run.stdout + run.stderr
    (ticket,) = Ticket.select()
    printed = block_after("api-session-output").replace("#1", ticket.number)
    assert run.stdout == printed, run.stdout + run.stderr
    assert ticket.state == "closed" and ticket.score == 5 and len(ticket.photos) == 1


def test_the_session_uses_the_ids_the_calls_return():
    script = block_after("api-session")

    assert not re.search(r"/tickets/\d", script)  # no hard-coded ticket number
    assert "docs/samples/lamp.jpg" in script and (ROOT / "docs/samples/lamp.jpg").is_file()
