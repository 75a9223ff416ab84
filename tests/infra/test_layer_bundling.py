"""The layer bundler: pip targets Lambda's platform, and a cached dependency install is reused
(so only the first bundling needs PyPI)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from infra_synth import REPO

from infra_cdk.constructs.layer import COMPLETE, PipLayerBundler, pip_command, runtime_requirements

pytestmark = pytest.mark.infra


def test_layer_requirements_are_pyprojects_runtime_dependencies() -> None:
    with (REPO / "pyproject.toml").open("rb") as handle:
        declared = tomllib.load(handle)["project"]["dependencies"]
    assert runtime_requirements(REPO / "pyproject.toml") == declared


def test_pip_installs_cpython312_aarch64_wheels_only(tmp_path: Path) -> None:
    command = pip_command(["pydantic>=2.7,<3"], tmp_path / "python")
    assert command[command.index("--python-version") + 1] == "3.13"
    assert command[command.index("--implementation") + 1] == "cp"
    assert "--only-binary=:all:" in command
    assert "manylinux2014_aarch64" in command
    assert command[command.index("--target") + 1] == str(tmp_path / "python")
    assert command[-1] == "pydantic>=2.7,<3"


def test_bundling_copies_cached_dependencies_and_the_package_without_dev_only_parts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bundler = PipLayerBundler(REPO / "layers" / "common" / "python" / "sre_copilot", ["pydantic>=2.7,<3"])
    cached = bundler.cache_dir()
    (cached / "pydantic").mkdir(parents=True)
    (cached / "pydantic" / "__init__.py").write_text("")
    (cached / COMPLETE).touch()

    out = tmp_path / "asset"
    assert bundler.try_bundle(str(out)) is True

    site = out / "python"
    assert (site / "pydantic" / "__init__.py").exists()
    assert (site / "sre_copilot" / "settings.py").exists()
    assert not (site / "sre_copilot" / "local").exists(), "the moto-backed local runtime is dev-only"
    assert not (site / "sre_copilot" / "cli").exists()
    assert not (site / COMPLETE).exists()
    assert not list(site.rglob("__pycache__"))
