"""Memory per Lambda function: resident size after init, and what one invocation allocates.

Run: .venv/bin/python benchmarks/bench_memory.py [--storm 5000] [--forge DIR] [--samples DIR]

- Init: a fresh interpreter per function, in the functions' Lambda environment
  (`bench_cold_start.environment`), imports the handler and reports its peak resident set
  (`VmHWM`): the interpreter, botocore, the X-Ray SDK and the handler's imports. The Lambda
  runtime's own bootstrap is not in it.
- Invocation: the generated storm of `bench_replay.py` (`--storm` alerts), the FORGE storm (the
  largest real incidents the project has) and the resolved samples with every approval given (so
  the action, verification and postmortem steps run) are replayed in this process on the memory
  backend with `tracemalloc` on. For each handler invocation, the peak of traced allocations above
  the level at its start: what the invocation needs on top of what the process held. An Express
  analysis pass that the local runtime runs inside the request that starts it counts in its own
  steps' rows, not its parent's. `tracemalloc` sees Python's allocator only: pydantic-core's and
  zlib's own buffers are not in it. A function no replay invokes shows its init only.
- Estimate: init plus the largest invocation, against the function's configured memory (cdk.json
  through the config model the CDK app uses). Warm state a function keeps between invocations
  (the correlator's engine: `bench_correlation.py` prints its peak) is not in it either, so the
  estimate must stay under half the configured memory; the exit status is 1 when one does not.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import textwrap
import threading
import tracemalloc
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_forge import FORGE

from sre_copilot.local import moto_patches

HEADROOM = 0.5
"""The estimate may use at most this share of the configured memory (see the docstring)."""

CHILD = """
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import handler
# VmHWM is this program's own peak: ru_maxrss would carry the parent's across fork and exec.
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


def init_rss_mib(name: str) -> float:
    """Peak resident set of a fresh interpreter that imported the function's handler, in MiB."""
    from bench_cold_start import PACKAGE, REPO, environment  # the CDK app: only where it is used

    done = subprocess.run([sys.executable, "-c", CHILD, str(REPO / "functions" / name), str(PACKAGE)],
                          env=environment(name, on_lambda=True), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"importing functions/{name}/handler.py failed:\n{done.stderr[-2000:]}")
    return int(done.stdout.split()[-1]) / 1024  # VmHWM is in KiB


@dataclass
class _Open:
    name: str
    start: int
    peak: int


@dataclass
class Allocations:
    """Per function, the traced peak of each invocation above its starting level, in bytes."""

    peaks: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    _open: list[_Open] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _fold(self) -> None:
        # The peak since the last event belongs to the invocation that was running: the latest
        # one still open (a nested one runs while its parent waits for it).
        if self._open:
            top = self._open[-1]
            top.peak = max(top.peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.reset_peak()

    def enter(self, name: str) -> _Open:
        with self._lock:
            self._fold()
            current = tracemalloc.get_traced_memory()[0]
            opened = _Open(name, current, current)
            self._open.append(opened)
            return opened

    def leave(self, opened: _Open) -> None:
        with self._lock:
            self._fold()
            self._open.remove(opened)
            self.peaks[opened.name].append(opened.peak - opened.start)


@contextmanager
def traced(found: Allocations) -> Iterator[None]:
    invoke = moto_patches.InProcessLambdas.invoke

    def measured(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        opened = found.enter(str(name))
        try:
            return invoke(self, name, *args, **kwargs)
        finally:
            found.leave(opened)

    tracemalloc.start()
    try:
        with moto_patches._replaced((moto_patches.InProcessLambdas, "invoke", measured)):
            yield
    finally:
        tracemalloc.stop()


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # infra_cdk, as cdk.json's app runs it
    from bench_replay import storm

    from infra_cdk.app import cdk_json_context
    from infra_cdk.config import load_config
    from infra_cdk.constructs.functions import FUNCTIONS
    from sre_copilot.evaluation.scoring import labelled_scenarios
    from sre_copilot.local.replay import Scenario, replay

    parser = argparse.ArgumentParser()
    parser.add_argument("--storm", type=int, default=5000, help="alerts in the generated storm")
    parser.add_argument("--forge", type=Path, default=FORGE, help="labelled scenarios (default ../shared/forge)")
    parser.add_argument("--samples", type=Path, default=FORGE.parent / "scenarios-resolved",
                        help="labelled scenarios replayed with every approval given")
    args = parser.parse_args()
    config = load_config(cdk_json_context())
    found = Allocations()
    workloads = [(Scenario.model_validate(storm(args.storm)), "none")]
    for directory, approve in ((args.forge, "none"), (args.samples, "all")):
        workloads += [(Scenario.load(scenario), approve) for scenario, _ in labelled_scenarios(directory)]
    with traced(found):
        for scenario, approve in workloads:
            replay(scenario, approve=approve, backend="memory", settle_after_s=600, trails=False)
    names = [s.name for s, approve in workloads if approve == "none"]
    names.append(f"{sum(approve == 'all' for _, approve in workloads)} resolved samples with every approval given")
    print("\n".join(textwrap.wrap(
        "memory per function: init = peak RSS of a fresh interpreter importing the handler; per "
        f"invocation = tracemalloc peak above its start, replaying {', '.join(names)} on the memory "
        f"backend. Estimate = init + largest invocation; budget {HEADROOM:.0%} of the configured "
        "memory (MiB).", width=100)))
    print(f"  {'function':<20}{'MiB':>6}{'init':>7}{'calls':>8}{'median':>8}{'largest':>9}{'estimate':>10}"
          f"{'share':>7}")
    over = []
    for name in sorted(FUNCTIONS):
        configured = config.memory_for(name)
        init = init_rss_mib(name)
        peaks = found.peaks.get(name, [])
        largest = max(peaks, default=0) / 2**20
        median = statistics.median(peaks) / 2**20 if peaks else 0.0
        estimate = init + largest
        share = estimate / configured
        if share > HEADROOM:
            over.append(name)
        print(f"  {name:<20}{configured:>6}{init:>7.1f}{len(peaks):>8,}{median:>8.2f}{largest:>9.2f}"
              f"{estimate:>10.1f}{share:>7.0%}" + ("" if peaks else "  (not invoked)"))
    print(f"over budget: {', '.join(over)}" if over else "every function within budget")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
