"""Cold start per Lambda function: handler import time and deployment size.

Run: .venv/bin/python benchmarks/bench_cold_start.py [--runs 5] [--only ingest,notify]

Import time: for each function and mode, `--runs` fresh interpreters each import `handler` with
the function's directory first on sys.path; the table shows the medians. The child times only
`import handler` (time.process_time for CPU, time.perf_counter for wall): interpreter start-up and
the Lambda runtime's own bootstrap are not included. The Python packages come from this virtualenv
(same versions as the layer, x86_64 instead of arm64); `sre_copilot` is byte-compiled first, as
pip compiles the virtualenv's packages. Modes:
- plain (the budget): no Lambda variables, so the tracer is off, as in tests, replays and the CLI;
- lambda: the functions' environment (`infra_cdk/constructs/functions.py`: no pydantic plugin scan)
  with LAMBDA_TASK_ROOT and AWS_LAMBDA_FUNCTION_NAME set, so Powertools Tracer is on. It
  imports the X-Ray SDK, whose sampler imports botocore's session and client (with its docs
  machinery); the first AWS call of every function needs those anyway. The child imports them
  first, timed on their own (`botocore`), then the handler (`ours`); `cpu` is the sum;
- shipped: lambda, with bytecode for exactly the modules the bundled layers carry a `.pyc` for
  (and for the standard library and the runtime's boto3/botocore/s3transfer); every other module is
  compiled from source, as on Lambda, whose /opt is read-only so nothing compiled is cached.
On a shared machine the wall time includes waiting for a core, so the budget is checked on the
median CPU time; only the plain wall time is printed.

Size: the function's code plus every layer it attaches (`infra_cdk.constructs.layer.sdk_layers_for`
with cdk.json's context), each zipped with deflate as CDK does, boto3/botocore/s3transfer excluded
(the runtime provides them). The layers are bundled exactly as `cdk deploy` bundles them (pip,
manylinux aarch64 wheels, cached under the user cache directory: the first run needs PyPI).

Bytecode list: the children also report which module files (outside the standard library and
boto3/botocore/s3transfer) the handler loaded; the layer bundler byte-compiles those listed in
`layers/common/bytecode-modules.txt`. `--write-bytecode-list` rewrites that file from this run
(merged with the old list under `--only`).

Exit status 1 when a function is over 300 ms CPU plain, over 300 ms CPU lambda without the botocore
share (the init work that is the function's own), over 15 MB zipped, or imports at init a module
the layers carry no bytecode for (the list is stale). The shipped figure itself is printed, not
checked: it adds the runtime's compile of whatever is still source, which the list check covers.
"""

from __future__ import annotations

import argparse
import compileall
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from infra_cdk.app import cdk_json_context  # noqa: E402
from infra_cdk.config import load_config  # noqa: E402
from infra_cdk.constructs.functions import FUNCTIONS  # noqa: E402
from infra_cdk.constructs.layer import (  # noqa: E402
    BYTECODE_MODULES,
    PipLayerBundler,
    bytecode_modules,
    runtime_requirements,
    sdk_layers_for,
)
from infra_cdk.layer_partition import CORE, SDK_LAYERS  # noqa: E402

IMPORT_BUDGET_MS = 300.0
SIZE_BUDGET_MB = 15.0
PACKAGE = REPO / "layers" / "common" / "python"
CHILD = """
import sys, time, json
sys.path[:0] = [sys.argv[1], sys.argv[2]]
mode, package = sys.argv[3], sys.argv[2] + "/"
runtime = ("boto3", "botocore", "s3transfer")
def in_layer(path):
    # The module's path inside the layer's python/; None for the stdlib, the runtime's SDK, handler.py.
    if "site-packages/" in path:
        relative = path.split("site-packages/", 1)[1]
        return None if relative.split("/", 1)[0] in runtime else relative
    return path[len(package):] if path.startswith(package) else None
if mode == "shipped":
    # Bytecode only for what the bundled layers carry; Python compiles the rest and handler.py.
    import importlib._bootstrap_external as bootstrap
    with open(sys.argv[4]) as listing:
        shipped = set(listing.read().split())
    cached = bootstrap.cache_from_source
    def cache_from_source(path, debug_override=None, *, optimization=None):
        relative = in_layer(path)
        if not path.startswith(sys.argv[1]) and (relative is None or relative in shipped):
            return cached(path, debug_override, optimization=optimization)
        return "/nonexistent/uncached.pyc"
    bootstrap.cache_from_source = cache_from_source
figures = {"botocore_ms": 0.0}
if mode != "plain":
    cpu = time.process_time()
    import botocore.session, botocore.client
    figures["botocore_ms"] = (time.process_time() - cpu) * 1e3
wall, cpu = time.perf_counter(), time.process_time()
import handler
figures.update(wall_ms=(time.perf_counter() - wall) * 1e3, cpu_ms=(time.process_time() - cpu) * 1e3)
files = (getattr(module, "__file__", None) for module in list(sys.modules.values()))
figures["loaded"] = sorted({r for f in files if f and f.endswith(".py") and (r := in_layer(f))})
print(json.dumps(figures))
"""
MODES = ("plain", "lambda", "shipped")


def environment(name: str, on_lambda: bool) -> dict[str, str]:
    function_dir = REPO / "functions" / name
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    if not on_lambda:
        return {**keep, "PYTHONDONTWRITEBYTECODE": "1"}
    return {**keep, "LAMBDA_TASK_ROOT": str(function_dir), "AWS_LAMBDA_FUNCTION_NAME": f"sre-copilot-prod-{name}",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
            "POWERTOOLS_SERVICE_NAME": "sre-copilot", "POWERTOOLS_METRICS_NAMESPACE": "SreCopilot",
            "PYDANTIC_DISABLE_PLUGINS": "__all__", "PYTHONDONTWRITEBYTECODE": "1"}


@dataclass(frozen=True)
class ImportTimes:
    """Medians over the runs, in ms: CPU and wall of `import handler`, CPU of botocore's share;
    and the module files (relative to the layer's python/) the handler loaded."""

    cpu: float
    wall: float
    botocore: float
    loaded: frozenset[str]

    @property
    def total(self) -> float:
        return self.cpu + self.botocore


def import_times(name: str, runs: int, mode: str = "plain", shipped: Path | None = None) -> ImportTimes:
    """`shipped`: a file listing the module files the bundled layers carry bytecode for."""
    figures: dict[str, list[float]] = {"cpu_ms": [], "wall_ms": [], "botocore_ms": []}
    loaded: set[str] = set()
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", CHILD, str(REPO / "functions" / name), str(PACKAGE), mode,
                               str(shipped or "")],
                              env=environment(name, on_lambda=mode != "plain"), capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise SystemExit(f"importing functions/{name}/handler.py failed:\n{done.stderr[-2000:]}")
        run = json.loads(done.stdout.strip().splitlines()[-1])
        for key, values in figures.items():
            values.append(run[key])
        loaded.update(run["loaded"])
    return ImportTimes(cpu=statistics.median(figures["cpu_ms"]), wall=statistics.median(figures["wall_ms"]),
                       botocore=statistics.median(figures["botocore_ms"]), loaded=frozenset(loaded))


def zipped_size(root: Path, with_bytecode: bool = False) -> int:
    """Zipped bytes of `root`; bytecode counts only where it ships (the layers, not the function
    code, whose asset excludes it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file() and (with_bytecode or ("__pycache__" not in path.parts and path.suffix != ".pyc")):
                archive.write(path, path.relative_to(root))
    return len(buffer.getvalue())


def bundled_layers() -> tuple[dict[str, int], set[str]]:
    """Each layer's zipped size, and the module files (relative to python/) it carries bytecode for."""
    requirements = runtime_requirements(REPO / "pyproject.toml")
    sizes: dict[str, int] = {}
    compiled: set[str] = set()
    for layer in (CORE, *SDK_LAYERS):
        with tempfile.TemporaryDirectory() as out:
            PipLayerBundler(PACKAGE / "sre_copilot", requirements, layer).try_bundle(out)
            sizes[layer] = zipped_size(Path(out), with_bytecode=True)
            site = Path(out) / "python"
            for pyc in site.rglob("__pycache__/*.pyc"):
                module = pyc.name.split(".")[0] + ".py"
                compiled.add(str(pyc.parent.parent.relative_to(site) / module))
    return sizes, compiled


def write_bytecode_list(modules: set[str]) -> None:
    BYTECODE_MODULES.write_text("# Module files the functions import at init, byte-compiled into the layers\n"
                                "# (infra_cdk/constructs/layer.py). Written by benchmarks/bench_cold_start.py"
                                " --write-bytecode-list.\n" + "".join(f"{m}\n" for m in sorted(modules)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per function (default: 5)")
    parser.add_argument("--only", default="", help="comma-separated function names (default: all)")
    parser.add_argument("--write-bytecode-list", action="store_true",
                        help=f"rewrite {BYTECODE_MODULES.relative_to(REPO)} from the modules the handlers load")
    args = parser.parse_args()
    config = load_config(cdk_json_context(REPO))
    names = [n for n in FUNCTIONS if not args.only or n in args.only.split(",")]
    layers, compiled = bundled_layers()
    # As pip compiles the virtualenv's packages; the children never write bytecode themselves.
    compileall.compile_dir(PACKAGE / "sre_copilot", quiet=1)
    print(f"Cold start per function: median of {args.runs} fresh interpreters importing the handler;\n"
          "size = function code + its layers, zipped, boto3 excluded. "
          f"Budgets: {IMPORT_BUDGET_MS:.0f} ms CPU, {SIZE_BUDGET_MB:.0f} MB.")
    print("layers zipped, MB (every function has core, plus the layers its row lists):\n  "
          + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in layers.items()))
    print(f"{'':<20}{'import ms: plain':>16}{'lambda (tracer on)':>22}{'shipped':>9}")
    print(f"{'function':<20}{'cpu':>7}{'wall':>7}{'cpu':>7}{'ours':>6}{'botocore':>9}{'cpu':>9}{'MB':>6}  layers")
    over: list[str] = []
    loaded: set[str] = set()
    listing = Path(tempfile.mkstemp(suffix=".txt")[1])
    listing.write_text("\n".join(sorted(compiled)))
    for name in names:
        plain = import_times(name, args.runs)
        on_lambda = import_times(name, args.runs, "lambda")
        shipped = import_times(name, args.runs, "shipped", listing)
        loaded |= plain.loaded | on_lambda.loaded
        attached = (CORE, *sdk_layers_for(FUNCTIONS[name], config))
        size = zipped_size(REPO / "functions" / name) + sum(layers[layer] for layer in attached)
        flag = " "
        if max(plain.cpu, on_lambda.cpu) > IMPORT_BUDGET_MS or size / 1e6 > SIZE_BUDGET_MB:
            over.append(name)
            flag = "*"
        print(f"{name:<20}{plain.cpu:>7.0f}{plain.wall:>7.0f}{on_lambda.total:>7.0f}{on_lambda.cpu:>6.0f}"
              f"{on_lambda.botocore:>9.0f}{shipped.total:>9.0f}{size / 1e6:>6.1f} {flag}"
              f"{'+'.join(attached[1:]) or '-'}")
    listing.unlink()
    if args.write_bytecode_list:
        write_bytecode_list(loaded | (set(bytecode_modules()) if args.only else set()))
        print(f"wrote {len(loaded)} module files to {BYTECODE_MODULES.relative_to(REPO)}; bundle again to measure")
    elif missing := sorted(loaded - compiled):
        print(f"{len(missing)} module files load at init without bytecode in the layers, e.g. "
              f"{', '.join(missing[:3])}: run with --write-bytecode-list")
        over.append("bytecode list")
    if over:
        print(f"over budget (*): {', '.join(over)}")
        return 1
    print("every function is within budget")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
