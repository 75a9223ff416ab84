"""`sre-copilot eval --backend memory` on the FORGE storm, end to end (issue 11: <= 60 s).

Runs the evaluation (replay of every labelled scenario in the directory, then scoring) in a fresh
subprocess per repeat, as a person would run the command, and prints the median wall and CPU
time (user + system of the child: on a shared machine wall time mostly measures the others).

    .venv/bin/python benchmarks/bench_forge.py [--dir ../shared/forge] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

FORGE = Path(__file__).resolve().parents[2] / "shared" / "forge"


def run_once(directory: Path, backend: str) -> tuple[float, float]:
    """(wall s, CPU s) of one `sre-copilot eval` in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sre_copilot.cli.main", "eval", "--backend", backend, str(directory)],
                   check=True, stdout=subprocess.DEVNULL, env=os.environ.copy())
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


TARGET_S = 60.0
"""`sre-copilot eval --backend memory` on the FORGE storm (issue 11)."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, default=FORGE, help="labelled scenarios (default ../shared/forge)")
    parser.add_argument("--backend", choices=("memory", "moto"), default="memory")
    parser.add_argument("--repeat", type=int, default=1, help="runs; the median is reported")
    args = parser.parse_args()
    if not args.dir.is_dir():
        print(f"forge eval: {args.dir} not found, skipped")
        return
    runs = [run_once(args.dir, args.backend) for _ in range(args.repeat)]
    load = os.getloadavg()[0]
    wall = statistics.median(w for w, _ in runs)
    print(f"forge eval ({args.backend}, {args.dir.name}), median of {len(runs)}: {wall:.1f} s wall, "
          f"{statistics.median(c for _, c in runs):.1f} s CPU\n"
          f"  (load average {load:.1f} at the end; target 60 s)")
    if wall > TARGET_S:
        raise SystemExit(f"over target: {wall:.1f} s against {TARGET_S:g} s")


if __name__ == "__main__":
    main()
