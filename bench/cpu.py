"""Where the machine's CPU went during a run: per process group, from /proc (Linux only)."""

import os
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _procs() -> dict[int, tuple[str, int, int]]:
    """pid → (command name, parent pid, user+system ticks)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        out[int(entry.name)] = (name, int(fields[1]), int(fields[11]) + int(fields[12]))
    return out


class CpuMeter:
    """Cores used per group between start() and stop(): the servers' process trees by their
    master pid, and postgres, redis-server and wrk by name (all of them, other users' too)."""

    def __init__(self, roots: dict[str, int]):
        self.roots = roots

    def _group(self, pid: int, procs) -> str:
        seen = 0
        name = procs[pid][0]
        while pid in procs and seen < 50:
            for group, root in self.roots.items():
                if pid == root:
                    return group
            pid = procs[pid][1]
            seen += 1
        if name.startswith("postgres"):
            return "postgres"
        if name.startswith("redis-server"):
            return "redis"
        if name.startswith("wrk"):
            return "wrk"
        return "other"

    def start(self) -> None:
        self.t0, self.before = time.monotonic(), _procs()

    def stop(self, result=None) -> dict[str, float]:
        """Cores per group; `result.load_cpu_s` (wrk, gone by now) is added as `wrk`."""
        after, wall = _procs(), time.monotonic() - self.t0
        used: dict[str, float] = {}
        for pid, (_, _, ticks) in after.items():
            prev = self.before.get(pid)
            delta = ticks - (prev[2] if prev and prev[0] == after[pid][0] else 0)
            if delta <= 0:
                continue
            group = self._group(pid, after)
            used[group] = used.get(group, 0.0) + delta / TICK
        if result is not None and getattr(result, "load_cpu_s", 0):
            used["wrk"] = used.get("wrk", 0.0) + result.load_cpu_s
        return {g: round(v / wall, 2) for g, v in sorted(used.items()) if v / wall >= 0.005}
