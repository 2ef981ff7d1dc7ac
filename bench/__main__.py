"""One command for every benchmark; writes docs/benchmarks.md.

    .venv/bin/python -m bench                       # webhook + sweep/digest at 10k and 100k
    .venv/bin/python -m bench --sizes 10000,100000,1000000   # the 1M run takes long
    .venv/bin/python -m bench --skip-sweep --duration 10     # quicker
    .venv/bin/python -m bench.capacity                       # scale-out, burst, memory only

Needs PostgreSQL and Redis on 127.0.0.1 and wrk (`apt-get install wrk`); py-spy
(`pip install py-spy==0.4.3`) for the profile. See bench/webhook.py for the scenarios.
"""

import argparse
import ast
import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

from bench import capacity as capacity_bench
from bench import report, webhook

ROOT = Path(__file__).resolve().parent.parent
SWEEP = Path(__file__).with_name("sweep_digest.py")


def run_sweep(sizes: str, runs: int) -> dict | None:
    """bench/sweep_digest.py (owned separately) as a subprocess, if it is there."""
    if not SWEEP.exists():
        print("bench/sweep_digest.py not present: no sweep/digest figures", flush=True)
        return None
    help_text = subprocess.run([sys.executable, str(SWEEP), "--help"], cwd=ROOT,
                               capture_output=True, text=True).stdout  # fmt: skip
    cmd = [sys.executable, str(SWEEP.relative_to(ROOT))]
    if "--sizes" in help_text:
        cmd += ["--sizes", sizes]
    if "--runs" in help_text:
        cmd += ["--runs", str(runs)]
    if "--admin-url" in help_text:
        cmd += ["--admin-url", webhook.PG_ADMIN]
    print(f"running {' '.join(cmd)}", flush=True)
    started = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    output = proc.stdout + (f"\n{proc.stderr[-3000:]}" if proc.returncode else "")
    print(output, flush=True)
    rows = []
    for line in proc.stdout.splitlines():
        if line.startswith("seeded ") and ": {" in line:
            with contextlib.suppress(ValueError, SyntaxError):
                rows.append(ast.literal_eval(line.split(": ", 1)[1]))
    return {"command": " ".join(cmd[1:]), "seconds": time.time() - started,
            "rc": proc.returncode, "output": output, "rows": rows}  # fmt: skip


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=15, help="seconds per webhook load run")
    p.add_argument("--reps", type=int, default=3, help="runs per webhook figure (median)")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument(
        "--sizes",
        default="10000,100000",
        help="ticket counts for the sweep/digest (add 1000000 for the target)",
    )
    p.add_argument("--sweep-runs", type=int, default=5)
    p.add_argument("--skip-webhook", action="store_true")
    p.add_argument("--skip-sweep", action="store_true")
    p.add_argument("--skip-capacity", action="store_true", help="no scale-out/burst/memory")
    p.add_argument("--capacity-json", type=Path, help="use a saved capacity result instead")
    p.add_argument("--webhook-json", type=Path, help="use a saved webhook result instead")
    p.add_argument("--sweep-json", type=Path, help="use a saved sweep/digest result instead")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args, rest = p.parse_known_args(argv)

    result = None
    if args.webhook_json:
        result = json.loads(args.webhook_json.read_text())
    elif not args.skip_webhook:
        wargs = webhook.parse_args([
            "--duration", str(args.duration), "--reps", str(args.reps),
            "--connections", str(args.connections), *rest,
        ])  # fmt: skip
        result = webhook.run(wargs)
    if args.sweep_json:
        sweep = json.loads(args.sweep_json.read_text())
    else:
        sweep = None if args.skip_sweep else run_sweep(args.sizes, args.sweep_runs)
    if sweep is not None and not args.sweep_json:
        out_dir = webhook.RESULTS
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"sweep-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(sweep))
    capacity = None
    if args.capacity_json:
        capacity = json.loads(args.capacity_json.read_text())
    elif not args.skip_capacity:
        capacity = capacity_bench.main([])
    report.write(args.out, result, sweep, webhook.PG_ADMIN, "redis://127.0.0.1:6379/0",
                 capacity)  # fmt: skip
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
