"""Load generators: signed-request pools, wrk (closed loop) and a paced open-loop sender.

Every request in a pool is unique (its own MsgId, nonce and signature, fresh timestamp), so
Sidan's MsgId dedup never short-circuits a request.
"""

import asyncio
import itertools
import json
import random
import resource
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bot.wechat_sign import WeChatSigner

LUA = Path(__file__).with_name("unique_post.lua")
# MsgIds unique across runs too (WeChat's are 64-bit).
_msg_ids = itertools.count(int(time.time() * 1000) * 1000 + random.randrange(1000))


def signed_pool(token: str, messages: list[tuple[str, str]], *, rate: float | None = None,
                start: float | None = None) -> list[tuple[str, bytes]]:  # fmt: skip
    """(path?query, body) for each (openid, text), signed now; with `rate`, each signed with
    the second it is scheduled to be sent (`start` + i / rate), as WeChat signs at sending."""
    out = []
    now = int(time.time())
    start = time.time() if start is None else start
    for i, (openid, text) in enumerate(messages):
        signer = WeChatSigner(token, openid)
        at = int(start + i / rate) if rate else now
        query, body = signer.sign(signer.text(text, msg_id=next(_msg_ids), at=at), timestamp=at)
        out.append((f"/wechat?{urlencode(query)}", body))
    return out


def write_pool(pool: list[tuple[str, bytes]], path: Path) -> None:
    with open(path, "wb") as fh:
        for target, body in pool:
            if b"\n" in body or b"\t" in target.encode():
                raise ValueError("pool lines must not contain newlines or tabs")
            fh.write(target.encode() + b"\t" + body + b"\n")


@dataclass
class Result:
    """One load run: throughput, latency (ms) and what the replies were."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    ok: int
    matched: int
    errors: int
    wrapped: int = 0
    sent: int = 0
    first_bad: str = ""
    # A stateless server (the echo bot) may see a request again; Sidan must not.
    allow_wrap: bool = False
    # Cores used per process group during the run (bench.cpu), when measured.
    cpu: dict | None = None
    # CPU seconds the load generator itself used (wrk), when known.
    load_cpu_s: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def valid(self) -> bool:
        """Every reply was the expected one and no request was sent twice."""
        wrapped_ok = self.allow_wrap or self.wrapped == 0
        return self.errors == 0 and wrapped_ok and self.matched == self.ok == self.requests

    def as_dict(self) -> dict:
        return {**self.__dict__, "rps": round(self.rps, 1), "valid": self.valid}


def run_wrk(url: str, pool: list[tuple[str, bytes]], *, duration: float, connections: int,
            threads: int = 2, marker: str = "", timeout_s: int = 10) -> Result:  # fmt: skip
    """Closed-loop load with wrk at a fixed number of connections."""
    with tempfile.TemporaryDirectory(prefix="sidan-bench-") as tmp:
        pool_file = Path(tmp) / "pool.txt"
        write_pool(pool, pool_file)
        cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(round(duration))}s",
               f"--timeout={timeout_s}s", "-s", str(LUA), url, "--",
               str(pool_file), str(threads), marker]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(cmd, capture_output=True, timeout=duration + 120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    out = proc.stdout.decode("utf-8", "replace")
    line = next((x for x in out.splitlines() if x.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {out}\n{proc.stderr.decode()}")
    data = json.loads(line.removeprefix("BENCHJSON "), strict=False)
    errors = (data["connect_errors"] + data["read_errors"] + data["write_errors"]
              + data["timeouts"] + data["non_2xx"])  # fmt: skip
    return Result(
        requests=data["requests"], seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000, max_ms=data["max_us"] / 1000,
        ok=data["ok"], matched=data["matched"], errors=errors, wrapped=data["wrapped"],
        sent=data["sent"], first_bad=data["first_bad"], load_cpu_s=wrk_cpu_s,
    )  # fmt: skip


# --- paced (open-loop) sender ---------------------------------------------------------------


def run_paced(url: str, pool: list[tuple[str, bytes]], *, rate: float, marker: str = "",
              timeout_s: float = 10.0) -> Result:  # fmt: skip
    """Send the whole pool at `rate` requests/s on a fixed schedule; latency is measured from
    each request's scheduled send time, so a stalled server cannot hide its queue
    (coordinated-omission safe, like wrk2)."""
    return asyncio.run(_paced(url, pool, rate, marker, timeout_s))


async def _paced(url, pool, rate, marker, timeout_s) -> Result:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    idle: list = []
    latencies: list[float] = []
    counts = {"ok": 0, "matched": 0, "errors": 0}
    first_bad: list[str] = []
    marker_b = marker.encode()

    async def one(i: int, target: str, body: bytes, due: float) -> None:
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        head = (f"POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
        conn = None
        try:
            for attempt in (1, 2):
                conn = idle.pop() if idle and attempt == 1 else None
                reused = conn is not None
                if conn is None:
                    conn = await asyncio.open_connection(host, port)
                reader, writer = conn
                writer.write(head.encode() + body)
                try:
                    status, reply = await asyncio.wait_for(_read_response(reader), timeout_s)
                    break
                except (ConnectionError, asyncio.IncompleteReadError):
                    # The server closed an idle keep-alive connection: once more on a new one.
                    writer.close()
                    if not reused:
                        raise
            latencies.append(time.perf_counter() - due)
            if status == 200:
                counts["ok"] += 1
                if not marker_b or marker_b in reply:
                    counts["matched"] += 1
                elif not first_bad:
                    first_bad.append(reply.decode("utf-8", "replace"))
            else:
                counts["errors"] += 1
                if not first_bad:
                    first_bad.append(f"{status} {reply.decode('utf-8', 'replace')}")
            idle.append(conn)
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            latencies.append(time.perf_counter() - due)
            counts["errors"] += 1
            if not first_bad:
                first_bad.append(repr(exc))
            if conn is not None:
                conn[1].close()

    start = time.perf_counter() + 0.05
    tasks = [asyncio.create_task(one(i, t, b, start + i / rate)) for i, (t, b) in enumerate(pool)]
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    elapsed = max(time.perf_counter() - start, 1e-9)
    latencies.sort()
    n = len(latencies)

    def pct(p: float) -> float:
        return latencies[min(n - 1, int(p / 100 * n))] * 1000 if n else 0.0

    return Result(
        requests=n, seconds=elapsed, p50_ms=pct(50), p99_ms=pct(99),
        max_ms=latencies[-1] * 1000 if n else 0.0, ok=counts["ok"], matched=counts["matched"],
        errors=counts["errors"], sent=len(pool), first_bad=first_bad[0][:300] if first_bad else "",
    )  # fmt: skip


async def _read_response(reader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise asyncio.IncompleteReadError(b"", None)
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


def run_closed(url: str, pool: list[tuple[str, bytes]], *, concurrency: int, marker: str = "",
               timeout_s: float = 30.0) -> Result:  # fmt: skip
    """Send the whole pool once over `concurrency` keep-alive connections (for priming)."""
    return asyncio.run(_closed(url, pool, concurrency, marker, timeout_s))


async def _closed(url, pool, concurrency, marker, timeout_s) -> Result:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    queue = list(reversed(pool))
    latencies: list[float] = []
    counts = {"ok": 0, "matched": 0, "errors": 0}
    marker_b = marker.encode()

    async def worker() -> None:
        conn = None
        while queue:
            target, body = queue.pop()
            head = (f"POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = await asyncio.open_connection(host, port)
                conn[1].write(head.encode() + body)
                status, reply = await asyncio.wait_for(_read_response(conn[0]), timeout_s)
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                counts["errors"] += 1
                if conn is not None:
                    conn[1].close()
                conn = None
                continue
            latencies.append(time.perf_counter() - t0)
            counts["ok"] += status == 200
            counts["matched"] += status == 200 and (not marker_b or marker_b in reply)
        if conn is not None:
            conn[1].close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    n = len(latencies)
    return Result(
        requests=n, seconds=elapsed, p50_ms=latencies[n // 2] * 1000 if n else 0.0,
        p99_ms=latencies[min(n - 1, int(0.99 * n))] * 1000 if n else 0.0,
        max_ms=latencies[-1] * 1000 if n else 0.0, ok=counts["ok"], matched=counts["matched"],
        errors=counts["errors"], sent=len(pool),
    )  # fmt: skip
