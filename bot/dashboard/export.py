"""CSV and Excel exports of a drill-down list; large ones are written in the background."""

import csv
import io
import json
import logging
import secrets
import threading
import time
from pathlib import Path

from openpyxl import Workbook

from models.db import database
from models.figures_lists import COLUMNS, rows

log = logging.getLogger("sidan.dashboard")

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
JOB_TTL_S = 24 * 3600


def write(fmt: str, query, out) -> int:
    """Write every row of `query` to the binary stream `out`; returns the row count."""
    count = 0
    if fmt == "csv":
        # The BOM lets Excel open a UTF-8 CSV with its Chinese intact.
        text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        for row in rows(query):
            writer.writerow(row)
            count += 1
        text.flush()
        text.detach()
        return count
    book = Workbook(write_only=True)
    sheet = book.create_sheet("工单")
    sheet.append(COLUMNS)
    for row in rows(query):
        sheet.append(row)
        count += 1
    book.save(out)
    return count


def to_bytes(fmt: str, query) -> bytes:
    buffer = io.BytesIO()
    write(fmt, query, buffer)
    return buffer.getvalue()


class Jobs:
    """Background exports: status in Redis (any worker can answer), the file under a folder."""

    def __init__(self, redis, prefix: str, folder: str):
        self.redis, self.prefix, self.folder = redis, prefix, Path(folder)

    def _key(self, job_id: str) -> str:
        return f"{self.prefix}dash:export:{job_id}"

    def status(self, job_id: str) -> dict | None:
        raw = self.redis.get(self._key(job_id))
        return json.loads(raw) if raw else None

    def _set(self, job_id: str, **fields) -> None:
        state = {**(self.status(job_id) or {}), **fields}
        self.redis.set(self._key(job_id), json.dumps(state), ex=JOB_TTL_S)

    def path(self, job_id: str, fmt: str) -> Path:
        return self.folder / f"{job_id}.{fmt}"

    def _sweep(self) -> None:
        """Delete files whose job has expired from Redis (nobody can download them any more)."""
        if not self.folder.is_dir():
            return
        cutoff = time.time() - JOB_TTL_S
        for path in self.folder.iterdir():
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)

    def start(self, fmt: str, query, total: int, owner: int, filename: str) -> str:
        """Queue an export of `query` and return its id; a thread writes the file."""
        self._sweep()
        job_id = secrets.token_urlsafe(12)
        self._set(job_id, status="running", fmt=fmt, total=total, owner=owner,
                  filename=filename)  # fmt: skip
        thread = threading.Thread(target=self._run, args=(job_id, fmt, query), daemon=True)
        thread.start()
        return job_id

    def _run(self, job_id: str, fmt: str, query) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path(job_id, fmt)
        partial = target.with_suffix(".part")
        try:
            with database.connection_context(), open(partial, "wb") as out:
                count = write(fmt, query, out)
            partial.rename(target)
            self._set(job_id, status="done", rows=count)
        except Exception:
            log.exception("export %s failed", job_id)
            partial.unlink(missing_ok=True)
            self._set(job_id, status="failed")
