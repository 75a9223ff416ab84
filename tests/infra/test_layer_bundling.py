"""The layer bundler: pip targets Lambda's platform, a cached dependency install is reused (so only
the first bundling needs PyPI), and the modules imported at init ship as bytecode Lambda loads."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from infra_synth import REPO

from infra_cdk.constructs.layer import (
    COMPLETE,
    PipLayerBundler,
    bytecode_modules,
    pip_command,
    runtime_requirements,
    writes_lambda_bytecode,
)

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
    bundler = PipLayerBundler(REPO / "layers" / "common" / "python" / "sre_copilot", ["pydantic>=2.7,<3"],
                              bytecode=[])
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


def test_given_a_bytecode_list_then_exactly_those_modules_ship_bytecode_that_never_checks_its_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not writes_lambda_bytecode():
        pytest.skip("bytecode for Lambda's python3.13 is written only by CPython 3.13")
    # Given a cached install with two modules, of which the bytecode list names one
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bundler = PipLayerBundler(REPO / "layers" / "common" / "python" / "sre_copilot", ["pydantic>=2.7,<3"],
                              layer="all", bytecode=["pydantic/__init__.py", "sre_copilot/settings.py",
                                                     "not_in_this_layer/x.py"])
    cached = bundler.cache_dir()
    (cached / "pydantic").mkdir(parents=True)
    (cached / "pydantic" / "__init__.py").write_text("ORIGIN = 'bundled'\n")
    (cached / "pydantic" / "unlisted.py").write_text("")
    (cached / COMPLETE).touch()

    # When the layer is bundled
    out = tmp_path / "asset"
    bundler.try_bundle(str(out))

    # Then the listed modules have bytecode, the unlisted one none
    site = out / "python"
    pyc = site / "pydantic" / "__pycache__" / f"__init__.{sys.implementation.cache_tag}.pyc"
    assert pyc.exists()
    assert (site / "sre_copilot" / "__pycache__" / f"settings.{sys.implementation.cache_tag}.pyc").exists()
    assert not list(site.glob("pydantic/__pycache__/unlisted.*"))
    # and it is unchecked-hash bytecode (PEP 552 flags 0b01): CDK zips every file with the same old
    # mtime, so a timestamp check would fail on Lambda and every cold start would compile again.
    assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b01
    # Python runs it without reading the source: an edited source is not seen.
    (site / "pydantic" / "__init__.py").write_text("ORIGIN = 'source'\n")
    imported = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import pydantic;"
                               " print(pydantic.ORIGIN)", str(site)], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "bundled"


def test_the_bytecode_list_names_only_modules_the_package_or_the_venv_has() -> None:
    # The list is written by benchmarks/bench_cold_start.py; a stale entry compiles nothing.
    listed = bytecode_modules()
    package = REPO / "layers" / "common" / "python"
    site = Path(pytest.importorskip("pydantic").__file__).resolve().parents[1]
    assert any(m.startswith("sre_copilot/") for m in listed) and any(m.startswith("pydantic/") for m in listed)
    assert [m for m in listed if not (package / m).exists() and not (site / m).exists()] == []
