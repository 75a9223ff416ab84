"""Each localisation feature's contribution: the offline evaluation with that feature removed.

Usage: python benchmarks/bench_rca_ablation.py [DIR ...] (default ../shared/forge). Same code path
as bench_rca.py (`sre_copilot.evaluation.offline`); prints micro pair F1 and entity/service top-1/3.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sre_copilot.evaluation.offline import evaluate_offline
from sre_copilot.reasoning.localisation import FEATURES

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main(argv: list[str]) -> int:
    directories = [Path(a) for a in argv] or [SHARED / "forge"]
    for directory in directories:
        print(f"{directory}")
        print(f"{'removed':<12}{'F1':>7}{'ent@1':>8}{'ent@3':>8}{'svc@1':>8}{'svc@3':>8}")
        for removed in (None, *FEATURES):
            features = [f for f in FEATURES if f != removed]
            micro = evaluate_offline(directory, features=features)["summary"]["micro"]
            print(f"{removed or '(none)':<12}{micro['f1']:>7.3f}{micro['top1']:>8.3f}{micro['top3']:>8.3f}"
                  f"{micro['service_top1']:>8.3f}{micro['service_top3']:>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
