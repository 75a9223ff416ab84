"""The shared Lambda layer: our `sre_copilot` package plus its third-party runtime dependencies.

Bundling runs locally, without Docker: pip downloads the manylinux aarch64 / CPython 3.13 wheels of
the runtime dependencies listed in `pyproject.toml`. The dependency install is cached per
requirement set (under the user cache directory), so a re-synth after a code change only copies.
boto3/botocore/s3transfer are left out because the Lambda runtime provides them and they would
take the layer past Lambda's 250 MB unzipped limit. Powertools is bundled, so no public
Powertools layer ARN is needed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

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

    def __init__(self, package_dir: Path, requirements: list[str]) -> None:
        self.package_dir = package_dir
        self.requirements = requirements

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        site = Path(output_dir) / "python"
        shutil.copytree(self._dependencies(), site, dirs_exist_ok=True, ignore=shutil.ignore_patterns(COMPLETE))
        shutil.copytree(self.package_dir, site / self.package_dir.name, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(*EXCLUDED_PACKAGE_DIRS, "*.pyc"))
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


class SharedLayer(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, repo_root: Path) -> None:
        super().__init__(scope, construct_id)
        source = repo_root / "layers" / "common"
        requirements = runtime_requirements(repo_root / "pyproject.toml")
        self.layer = lambda_.LayerVersion(
            self, "Layer",
            description="sre_copilot package and its runtime dependencies (Powertools, pydantic, SDK clients)",
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            code=lambda_.Code.from_asset(
                str(source),
                exclude=SOURCE_EXCLUDES,
                asset_hash_type=AssetHashType.SOURCE,
                bundling=BundlingOptions(
                    # Only used if local bundling declines, which it never does: it bundles or raises.
                    image=DockerImage.from_registry(f"public.ecr.aws/sam/build-python{PYTHON_VERSION}"),
                    # The requirement list is part of the options, so it is part of the asset hash.
                    command=["bash", "-c", " ".join([
                        "pip install --no-compile --only-binary=:all: -t /asset-output/python",
                        *map(shlex.quote, requirements),
                        "&& cp -r /asset-input/python/sre_copilot /asset-output/python/"])],
                    local=PipLayerBundler(source / "python" / "sre_copilot", requirements),
                ),
            ),
        )
