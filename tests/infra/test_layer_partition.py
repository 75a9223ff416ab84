"""The layer split: each installed distribution goes to exactly one layer, following Requires-Dist
markers and extras as Lambda's python3.13/arm64 would, and the pruned parts are really unused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra_cdk.layer_partition import UNUSED_BY_US, UNUSED_PATHS, PartitionError, partition

pytestmark = pytest.mark.infra


def _dist(site: Path, name: str, requires: list[str], files: list[str]) -> None:
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    header = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0", *(f"Requires-Dist: {r}" for r in requires)]
    (info / "METADATA").write_text("\n".join(header) + "\n\nlong description\nRequires-Dist: not-a-header\n")
    (info / "RECORD").write_text("".join(f"{f},sha256=x,1\n" for f in files) + "../../bin/tool,,\n")
    for f in files:
        (site / f).parent.mkdir(parents=True, exist_ok=True)
        (site / f).write_text("")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    _dist(site, "pydantic", ["typing-extensions"], ["pydantic/__init__.py"])
    _dist(site, "typing-extensions", [], ["typing_extensions.py", "typing_extensions.pyi"])
    _dist(site, "aws-lambda-powertools", ['aws-xray-sdk; extra == "tracer"', 'boto3; extra == "aws-sdk"'],
          ["aws_lambda_powertools/__init__.py", "aws_lambda_powertools/event_handler/openapi/swagger_ui/html.py",
           "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js",
           "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui.min.css"])
    _dist(site, "aws-xray-sdk", ["botocore", "wrapt"], ["aws_xray_sdk/__init__.py"])
    _dist(site, "wrapt", [], ["wrapt/__init__.py"])
    _dist(site, "kubernetes", ["pydantic", "aiohttp", 'pywin32; sys_platform == "win32"'],
          ["kubernetes/__init__.py", "kubernetes/aio/__init__.py"])
    _dist(site, "aiohttp", [], ["aiohttp/__init__.py"])
    _dist(site, "twilio", ["aiohttp"], ["twilio/__init__.py"])
    _dist(site, "opensearch-py", ["opensearch-protobufs"], ["opensearchpy/__init__.py"])
    _dist(site, "opensearch-protobufs", ["grpcio"], ["opensearch/protobufs/__init__.py"])
    return site


REQUIREMENTS = ["pydantic>=2", "aws-lambda-powertools[tracer]>=3", "kubernetes", "twilio", "opensearch-py",
                "boto3"]


def test_given_an_install_when_partitioned_then_core_follows_extras_and_skips_what_lambda_provides(
        site: Path) -> None:
    layers = partition(REQUIREMENTS, site)
    assert "aws_xray_sdk/__init__.py" in layers["core"], "the [tracer] extra is followed"
    assert "wrapt/__init__.py" in layers["core"]
    assert not any(f.startswith(("boto", "botocore")) for files in layers.values() for f in files)
    assert not any(f.startswith("../") or "__pycache__" in f for files in layers.values() for f in files)


def test_given_swagger_assets_and_stubs_then_no_layer_ships_them_but_their_modules_stay(site: Path) -> None:
    # Given Powertools' Swagger UI assets and a type stub, when partitioned, then the JavaScript,
    # CSS and .pyi are left out, while the Python module beside them (imported by Event Handler) ships.
    shipped = {f for files in partition(REQUIREMENTS, site).values() for f in files}
    assert "aws_lambda_powertools/event_handler/openapi/swagger_ui/html.py" in shipped
    assert not any(f.endswith((".js", ".css", ".pyi")) for f in shipped)
    assert "typing_extensions.py" in shipped


def test_no_resolver_of_ours_serves_swagger_ui() -> None:
    # The pruned assets are served only by `enable_swagger()`; nothing we ship calls it.
    package = Path(__file__).resolve().parents[2] / "layers" / "common" / "python" / "sre_copilot"
    functions = Path(__file__).resolve().parents[2] / "functions"
    sources = [*package.rglob("*.py"), *functions.rglob("*.py")]
    assert len(sources) > 100
    assert not [str(p) for p in sources if "enable_swagger" in p.read_text(encoding="utf-8")]


def test_given_sdk_layers_then_each_carries_its_closure_minus_core_and_the_pruned_parts(site: Path) -> None:
    layers = partition(REQUIREMENTS, site)
    assert "kubernetes/__init__.py" in layers["kubernetes"]
    assert "pydantic/__init__.py" not in layers["kubernetes"], "already in core"
    assert "kubernetes/aio/__init__.py" not in layers["kubernetes"], "the asyncio client is never imported"
    assert "aiohttp/__init__.py" not in layers["kubernetes"], "only kubernetes.aio needs aiohttp"
    assert "aiohttp/__init__.py" not in layers["twilio"], "only twilio's async HTTP client needs aiohttp"
    assert "opensearchpy/__init__.py" in layers["opensearch"]
    assert not any(f.startswith("opensearch/") for f in layers["opensearch"]), "gRPC transport unused"
    assert layers["slack"] == [] and layers["llm"] == []


def test_given_a_dependency_no_layer_claims_then_partition_refuses(site: Path) -> None:
    with pytest.raises(PartitionError, match="leftpad"):
        partition([*REQUIREMENTS, "leftpad"], site)


def _site_packages() -> Path:
    import kubernetes

    return Path(kubernetes.__file__).resolve().parents[1]


def test_the_pruned_distributions_are_never_imported_by_what_we_ship() -> None:
    # Given the real installed SDKs, when their shipped sources are scanned for imports of the pruned
    # parts, then none is found (so pruning cannot cause an ImportError on Lambda).
    site = _site_packages()
    checks = {
        "kubernetes": r"aiohttp|aiohttp_retry",  # pruned with kubernetes/aio
        "twilio": r"aiohttp|aiohttp_retry",  # pruned with twilio/http/async_http_client.py
        "opensearchpy": r"opensearch\.protobufs|opensearch_protobufs|grpc",  # UNUSED_BY_US
    }
    offenders: list[str] = []
    scanned = 0
    for package, pruned in checks.items():
        imports = re.compile(rf"^\s*(from|import)\s+({pruned})\b", re.M)
        for path in (site / package).rglob("*.py"):
            if "aio" in path.relative_to(site).parts or str(path.relative_to(site)).startswith(UNUSED_PATHS):
                continue
            scanned += 1
            if imports.search(path.read_text(encoding="utf-8", errors="replace")):
                offenders.append(str(path.relative_to(site)))
    assert scanned > 100 and offenders == []
    assert {"opensearch-protobufs"} == UNUSED_BY_US
