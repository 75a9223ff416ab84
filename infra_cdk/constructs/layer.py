"""The shared Lambda layer: our `sre_copilot` package plus its third-party runtime dependencies.

Bundling runs locally, without Docker: pip downloads the manylinux aarch64 / CPython 3.13 wheels of
the runtime dependencies listed in `pyproject.toml`. The dependency install is cached per
requirement set (under the user cache directory), so a re-synth after a code change only copies.
boto3/botocore/s3transfer are left out because the Lambda runtime provides them and they would
take the layer past Lambda's 250 MB unzipped limit. Powertools is bundled, so no public
Powertools layer ARN is needed.

Bytecode: Lambda's /opt is read-only, so Python cannot cache what it compiles and a layer without
`.pyc` files is compiled again at every cold start (three to five times the import itself:
`benchmarks/bench_cold_start.py`, column "shipped"). The bundler byte-compiles the modules that the
functions import at init, listed in `layers/common/bytecode-modules.txt` (written by the benchmark);
compiling everything would take a function with Slack, Twilio and Kubernetes past 15 MB zipped. The `.pyc` files are unchecked-hash based (PEP 552): the layer
never changes under them, and zip extraction does not keep the source mtimes a timestamp check
needs. Bytecode is only valid for the interpreter version that wrote it, so it is written only when
the bundling interpreter is CPython 3.13, Lambda's; any other leaves the layer as source.
"""

from __future__ import annotations

import hashlib
import json
import os
import py_compile
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra_cdk.layer_partition import CORE, SDK_LAYERS, partition

if TYPE_CHECKING:
    from infra_cdk.config import DeploymentConfig

PYTHON_VERSION = "3.13"
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
# Lambda's python3.13 runs on Amazon Linux 2023 (glibc 2.34): every tag up to manylinux_2_34 loads.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer")
# Development-only parts of the package: the moto-backed local runtime and the operator CLI.
EXCLUDED_PACKAGE_DIRS = ("local", "cli", "__pycache__")
SOURCE_EXCLUDES = ["**/__pycache__", "**/*.pyc", "*.egg-info", "**/*.egg-info", "python/sre_copilot/local",
                   "python/sre_copilot/cli"]


COMPLETE = ".complete"  # marks a finished dependency install in the cache
BYTECODE_MODULES = Path(__file__).resolve().parents[2] / "layers" / "common" / "bytecode-modules.txt"


def bytecode_modules(listing: Path = BYTECODE_MODULES) -> list[str]:
    """The module files (relative to the layer's `python/`) that the functions import at init."""
    if not listing.exists():
        return []
    return [line.strip() for line in listing.read_text().splitlines() if line.strip() and not line.startswith("#")]


def writes_lambda_bytecode() -> bool:
    """Whether this interpreter writes bytecode Lambda's python3.13 loads (same magic number)."""
    return sys.implementation.name == "cpython" and f"{sys.version_info[0]}.{sys.version_info[1]}" == PYTHON_VERSION


def compile_layer(site: Path, modules: list[str]) -> int:
    """Byte-compile, in place, the listed module files present under `site` (a layer holds only
    some of them); returns how many files were compiled."""
    if not writes_lambda_bytecode():
        print(f"bundling with Python {sys.version_info[0]}.{sys.version_info[1]}, not {PYTHON_VERSION}: "
              "the layer ships without bytecode (slower cold starts)", file=sys.stderr)
        return 0
    compiled = 0
    for source in sorted({site / relative for relative in modules}):
        if source.is_file():
            py_compile.compile(str(source), doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
            compiled += 1
    return compiled


def runtime_requirements(pyproject: Path) -> list[str]:
    """`[project].dependencies` of pyproject.toml: the one list the layer and `pip install -e .` share."""
    with pyproject.open("rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def pip_command(requirements: list[str], target: Path) -> list[str]:
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    return [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
            *platforms, "--implementation", "cp", "--python-version", PYTHON_VERSION, "--only-binary=:all:",
            "--upgrade", "--target", str(target), *requirements]


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sre-copilot" / "layer-deps"


@jsii.implements(ILocalBundling)
class PipLayerBundler:
    """`ILocalBundling` for the layer; CDK calls `try_bundle` instead of starting a container."""

    def __init__(self, package_dir: Path, requirements: list[str], layer: str = "all",
                 bytecode: list[str] | None = None) -> None:
        """`layer`: "all" bundles every dependency and the package in one layer; `core` or an SDK
        layer name of `infra_cdk.layer_partition` bundles that part only (the package goes in core).
        `bytecode`: the module files to byte-compile (default: `layers/common/bytecode-modules.txt`)."""
        self.package_dir = package_dir
        self.requirements = requirements
        self.layer = layer
        self.bytecode = bytecode_modules() if bytecode is None else bytecode

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        site = Path(output_dir) / "python"
        dependencies = self._dependencies()
        if self.layer == "all":
            shutil.copytree(dependencies, site, dirs_exist_ok=True, ignore=shutil.ignore_patterns(COMPLETE))
        else:
            for relative in partition(self.requirements, dependencies)[self.layer]:
                source = dependencies / relative
                if source.is_file():
                    (site / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, site / relative)
        if self.layer in ("all", CORE):
            shutil.copytree(self.package_dir, site / self.package_dir.name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(*EXCLUDED_PACKAGE_DIRS, "*.pyc"))
        compile_layer(site, self.bytecode)
        return True

    def cache_dir(self) -> Path:
        """Where the installed dependencies of this exact requirement set and platform are kept."""
        fingerprint = hashlib.sha256(json.dumps([self.requirements, PLATFORMS, PYTHON_VERSION]).encode()).hexdigest()
        return _cache_root() / fingerprint[:24]

    def _dependencies(self) -> Path:
        cached = self.cache_dir()
        if (cached / COMPLETE).exists():
            return cached
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cached.parent) as scratch:
            target = Path(scratch) / "python"
            result = subprocess.run(pip_command(self.requirements, target), capture_output=True, text=True,
                                    check=False)
            if result.returncode != 0:
                raise RuntimeError(
                    "bundling the Lambda layer failed: pip could not fetch aarch64/CPython "
                    f"{PYTHON_VERSION} wheels for {self.requirements}:\n{result.stderr.strip()[-2000:]}\n"
                    "Synthesize with `-c bundle_layer=false` to skip bundling when offline.")
            for name in PROVIDED_BY_RUNTIME:
                shutil.rmtree(target / name, ignore_errors=True)
                for meta in target.glob(f"{name}-*.dist-info"):
                    shutil.rmtree(meta)
            shutil.rmtree(target / "bin", ignore_errors=True)
            (target / COMPLETE).touch()
            shutil.rmtree(cached, ignore_errors=True)
            target.rename(cached)
        return cached


def sdk_layers_for(spec: Any, config: DeploymentConfig) -> tuple[str, ...]:
    """The SDK layers a function needs, read from its access spec (`FunctionSpec`): the heavy SDKs
    are imported only by the adapters those accesses build (`services/container.py`)."""
    wanted = {
        "crypto": spec.enqueues_signals,  # SNS signature verification at ingestion
        "slack": "slack" in spec.secrets,
        "twilio": "twilio" in spec.secrets,
        "llm": spec.llm and config.llm_provider != "none",
        "opensearch": spec.vector_index != "none" and config.enable_opensearch,
        "kubernetes": spec.executes_actions,
    }
    return tuple(name for name in SDK_LAYERS if wanted[name])


class SharedLayer(Construct):
    """`layer` (every function) holds our package and the core dependencies; `sdk_layers` one
    layer per heavy SDK, attached only to the functions that use it."""

    def __init__(self, scope: Construct, construct_id: str, *, repo_root: Path) -> None:
        super().__init__(scope, construct_id)
        source = repo_root / "layers" / "common"
        requirements = runtime_requirements(repo_root / "pyproject.toml")
        self._source, self._requirements = source, requirements
        self.layer = self._layer("Layer", CORE, source, requirements,
                                 "sre_copilot package and its core dependencies (Powertools, pydantic, PyYAML)")
        # Built on first use, so a deployment has no layer that no function attaches.
        self.sdk_layers: dict[str, lambda_.LayerVersion] = {}

    def layers_for(self, spec: Any, config: DeploymentConfig) -> list[lambda_.ILayerVersion]:
        names = sdk_layers_for(spec, config)
        for name in names:
            if name not in self.sdk_layers:
                self.sdk_layers[name] = self._layer(f"{name.capitalize()}Layer", name, self._source,
                                                    self._requirements, f"SRE Copilot {name} SDK and its dependencies")
        return [self.layer, *(self.sdk_layers[name] for name in names)]

    def _layer(self, construct_id: str, layer: str, source: Path, requirements: list[str],
               description: str) -> lambda_.LayerVersion:
        with_package = layer == CORE
        return lambda_.LayerVersion(
            self, construct_id,
            description=description,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            code=lambda_.Code.from_asset(
                str(source),
                exclude=SOURCE_EXCLUDES,
                # An SDK layer changes only with the requirement set, not with our code.
                asset_hash_type=AssetHashType.SOURCE if with_package else AssetHashType.CUSTOM,
                # The bytecode list is in `source`; an SDK layer's hash names it as well.
                asset_hash=None if with_package else hashlib.sha256(
                    json.dumps([layer, requirements, PLATFORMS, PYTHON_VERSION, bytecode_modules()]).encode()
                ).hexdigest(),
                bundling=BundlingOptions(
                    # Only used if local bundling declines, which it never does: it bundles or raises.
                    image=DockerImage.from_registry(f"public.ecr.aws/sam/build-python{PYTHON_VERSION}"),
                    # The requirement list and layer name are part of the options, so of the asset hash.
                    command=["bash", "-c", " ".join([
                        f"echo layer={layer} && pip install --no-compile --only-binary=:all: -t /asset-output/python",
                        *map(shlex.quote, requirements),
                        "&& cp -r /asset-input/python/sre_copilot /asset-output/python/"])],
                    local=PipLayerBundler(source / "python" / "sre_copilot", requirements, layer),
                ),
            ),
        )
