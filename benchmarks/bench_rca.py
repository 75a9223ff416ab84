"""Correlation and root cause on labelled directories, beside the two simple baselines.

Runs the offline evaluation (`sre_copilot.evaluation.offline`: ingestion's normaliser and dedup
key, the correlation engine, the reasoning steps' pure functions, the scenario-format measures) on
each directory given (default: ../shared/scenarios and ../shared/forge when present), and prints
the product's micro figures beside time-gap grouping and most-alerts-given-the-truth, all scored
by `sre_copilot.evaluation`. `sre-copilot eval DIR` gives the same measures from a full replay.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sre_copilot.cli.eval_table import render_margin
from sre_copilot.evaluation.offline import evaluate_offline

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="*", type=Path)
    args = parser.parse_args(argv)
    directories = args.directories or [d for d in (SHARED / "scenarios", SHARED / "forge") if d.is_dir()]
    for directory in directories:
        started = time.perf_counter()
        report = evaluate_offline(directory)
        micro = report["summary"]["micro"]
        print(f"{directory}: {report['summary']['scenarios']} scenario(s), {micro['alert_signals']} alert signals,\n"
              f"  {micro['incidents']} incidents, noise reduction {micro['noise_reduction']:.3f}, "
              f"change top-1 {_f(micro.get('change_top1'))}  ({time.perf_counter() - started:.1f} s)")
        print(render_margin(report))
        print()
    return 0


def _f(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else "n/a"


if __name__ == "__main__":
    sys.exit(main())
