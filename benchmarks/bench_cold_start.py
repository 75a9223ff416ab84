"""Cold start per Lambda function: handler import time and deployment size.

Run: .venv/bin/python benchmarks/bench_cold_start.py [--runs 5] [--only ingest,notify]

Import time: for each function, `--runs` fresh interpreters each import `handler` with the
function's directory first on sys.path. The child times only `import handler` (time.process_time
for CPU, time.perf_counter for wall); the table shows the medians. Interpreter start-up and the
Lambda runtime's own bootstrap are not included; the Python packages come from this virtualenv
(same versions as the layer, x86_64 instead of arm64). Two environments:
- plain (the budget): no Lambda variables, so the tracer is off, as in tests, replays and the CLI;
- lambda (for information): LAMBDA_TASK_ROOT and AWS_LAMBDA_FUNCTION_NAME set, so Powertools
  Tracer is on, imports the X-Ray SDK and patches botocore, whose client and docs machinery then
  load at init (any function's first AWS call needs them anyway).
On a shared machine the wall time includes waiting for a core, so the budget is checked on the
median CPU time; both are printed.

Size: the function's code plus every layer it attaches (`infra_cdk.constructs.layer.sdk_layers_for`
with cdk.json's context), each zipped with deflate as CDK does, boto3/botocore/s3transfer excluded
(the runtime provides them). The layers are bundled exactly as `cdk deploy` bundles them (pip,
manylinux aarch64 wheels, cached under the user cache directory: the first run needs PyPI).

Exit status 1 when a function is over 300 ms CPU or 15 MB zipped.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from infra_cdk.app import cdk_json_context  # noqa: E402
from infra_cdk.config import load_config  # noqa: E402
from infra_cdk.constructs.functions import FUNCTIONS  # noqa: E402
from infra_cdk.constructs.layer import PipLayerBundler, runtime_requirements, sdk_layers_for  # noqa: E402
from infra_cdk.layer_partition import CORE, SDK_LAYERS  # noqa: E402

IMPORT_BUDGET_MS = 300.0
SIZE_BUDGET_MB = 15.0
PACKAGE = REPO / "layers" / "common" / "python"
CHILD = """
import sys, time, json
sys.path[:0] = [sys.argv[1], sys.argv[2]]
wall, cpu = time.perf_counter(), time.process_time()
import handler
print(json.dumps({"wall_ms": (time.perf_counter() - wall) * 1e3, "cpu_ms": (time.process_time() - cpu) * 1e3}))
"""


def environment(name: str, on_lambda: bool) -> dict[str, str]:
    function_dir = REPO / "functions" / name
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    if not on_lambda:
        return {**keep, "PYTHONDONTWRITEBYTECODE": "1"}
    return {**keep, "LAMBDA_TASK_ROOT": str(function_dir), "AWS_LAMBDA_FUNCTION_NAME": f"sre-copilot-prod-{name}",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
            "POWERTOOLS_SERVICE_NAME": "sre-copilot", "POWERTOOLS_METRICS_NAMESPACE": "SreCopilot",
            "PYTHONDONTWRITEBYTECODE": "1"}


def import_times(name: str, runs: int, on_lambda: bool = False) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", CHILD, str(REPO / "functions" / name), str(PACKAGE)],
                              env=environment(name, on_lambda), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"importing functions/{name}/handler.py failed:\n{done.stderr[-2000:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        walls.append(figures["wall_ms"])
        cpus.append(figures["cpu_ms"])
    return statistics.median(walls), statistics.median(cpus)


def zipped_size(root: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.write(path, path.relative_to(root))
    return len(buffer.getvalue())


def layer_sizes() -> dict[str, int]:
    requirements = runtime_requirements(REPO / "pyproject.toml")
    sizes: dict[str, int] = {}
    for layer in (CORE, *SDK_LAYERS):
        with tempfile.TemporaryDirectory() as out:
            PipLayerBundler(PACKAGE / "sre_copilot", requirements, layer).try_bundle(out)
            sizes[layer] = zipped_size(Path(out))
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per function (default: 5)")
    parser.add_argument("--only", default="", help="comma-separated function names (default: all)")
    args = parser.parse_args()
    config = load_config(cdk_json_context(REPO))
    names = [n for n in FUNCTIONS if not args.only or n in args.only.split(",")]
    layers = layer_sizes()
    print(f"Cold start per function: median of {args.runs} fresh interpreters importing the handler;\nsize = function code + its layers, zipped, boto3 excluded. "
          f"Budgets: {IMPORT_BUDGET_MS:.0f} ms CPU, {SIZE_BUDGET_MB:.0f} MB.")
    print("layers zipped: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in layers.items()))
    print(f"{'':<20}{'import ms, plain':>18}{'lambda':>8}")
    print(f"{'function':<20}{'cpu':>9}{'wall':>9}{'cpu':>8}{'zipped MB':>11}  layers")
    over = []
    for name in names:
        wall, cpu = import_times(name, args.runs)
        _, lambda_cpu = import_times(name, args.runs, on_lambda=True)
        attached = (CORE, *sdk_layers_for(FUNCTIONS[name], config))
        size = zipped_size(REPO / "functions" / name) + sum(layers[layer] for layer in attached)
        flag = ""
        if cpu > IMPORT_BUDGET_MS or size / 1e6 > SIZE_BUDGET_MB:
            over.append(name)
            flag = "  OVER BUDGET"
        print(f"{name:<20}{cpu:>9.0f}{wall:>9.0f}{lambda_cpu:>8.0f}{size / 1e6:>11.1f}  {'+'.join(attached)}{flag}")
    if over:
        print(f"over budget: {', '.join(over)}")
        return 1
    print("every function is within budget")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
