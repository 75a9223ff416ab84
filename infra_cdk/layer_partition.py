"""Splits the installed runtime dependencies into Lambda layers, so each function carries only the
SDKs its step uses (cold start and deployment size: see `benchmarks/bench_cold_start.py`).

One pip install resolves every runtime dependency of `pyproject.toml` together (one consistent set
of versions); this module then assigns each installed distribution to a layer by walking the
`Requires-Dist` graph of the installed `*.dist-info` directories:

- `core` (every function): pydantic, Powertools, PyYAML, requests and their closure, plus our package;
- one layer per heavy SDK (`kubernetes`, `llm`, `opensearch`, `slack`, `twilio`, `crypto`): the SDK's
  closure minus what `core` already has.

Pure Python (no CDK import): the benchmark and the tests use it as well as the layer construct.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement

CORE = "core"
# Which layer each direct runtime dependency of pyproject.toml lives in. A new dependency must be
# placed here: `partition` refuses one it does not know, so it cannot silently miss from Lambda.
REQUIREMENT_LAYER: dict[str, str] = {
    "pydantic": CORE, "pydantic-settings": CORE, "aws-lambda-powertools": CORE, "pyyaml": CORE,
    "requests": CORE, "boto3": CORE,
    "cryptography": "crypto", "slack-sdk": "slack", "twilio": "twilio", "anthropic": "llm",
    "opensearch-py": "opensearch", "requests-aws4auth": "opensearch", "kubernetes": "kubernetes",
}
SDK_LAYERS: tuple[str, ...] = ("crypto", "slack", "twilio", "llm", "opensearch", "kubernetes")
# Provided by the Lambda Python runtime; bundling them would only add size.
PROVIDED_BY_RUNTIME = frozenset({"boto3", "botocore", "s3transfer"})
# Declared by an SDK but never imported by the parts we use: opensearch-py 3 requires
# opensearch-protobufs (and so grpcio, ~7 MB zipped) for its gRPC transport; `opensearchpy` itself
# never imports it and we use the HTTP transport (tests/infra/test_layer_partition.py checks this).
UNUSED_BY_US = frozenset({"opensearch-protobufs"})
# kubernetes >= 35 also ships an asyncio client (`kubernetes/aio`, larger than the sync client) that
# alone needs aiohttp; the executor uses the sync client, so neither is shipped.
# Likewise twilio's AsyncTwilioHttpClient (`twilio/http/async_http_client.py`) is the only module of
# twilio that imports aiohttp; the pager uses the sync client. Dropping aiohttp and its compiled
# closure (multidict, yarl, frozenlist, propcache) keeps a function with Slack, Twilio and Kubernetes
# (Rollback) within 15 MB zipped.
# Powertools' Swagger UI assets (1.7 MB of JavaScript and CSS) are served only by `enable_swagger()`
# without a `swagger_base_url`; no resolver of ours enables Swagger. Type stubs (`*.pyi`) are read by
# type checkers, never imported. Both make room for the bytecode the layers carry (layer.py).
UNUSED_PATHS: tuple[str, ...] = ("kubernetes/aio/", "twilio/http/async_http_client.py",
                                 "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui")
UNUSED_SUFFIXES: tuple[str, ...] = (".pyi",)
UNUSED_EDGES = frozenset({("kubernetes", "aiohttp"), ("kubernetes", "aiohttp-retry"),
                          ("twilio", "aiohttp"), ("twilio", "aiohttp-retry")})
# Lambda python3.13 on arm64 (Amazon Linux 2023): the environment `Requires-Dist` markers see.
LAMBDA_MARKER_ENV: dict[str, str] = {
    "python_version": "3.13", "python_full_version": "3.13.0", "implementation_name": "cpython",
    "platform_python_implementation": "CPython", "sys_platform": "linux", "platform_system": "Linux",
    "os_name": "posix", "platform_machine": "aarch64", "platform_release": "", "platform_version": "",
    "implementation_version": "3.13.0",
}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Distribution:
    name: str
    requires: list[Requirement] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


class PartitionError(ValueError):
    """A runtime dependency that no layer claims, or an install that lacks a declared one."""


def read_installed(site: Path) -> dict[str, Distribution]:
    """Every distribution pip installed into `site` (a `--target` directory)."""
    found: dict[str, Distribution] = {}
    for info in sorted(site.glob("*.dist-info")):
        metadata = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
        header = metadata.split("\n\n", 1)[0]
        name = next(line.split(":", 1)[1].strip() for line in header.splitlines() if line.startswith("Name:"))
        requires = [Requirement(line.split(":", 1)[1].strip()) for line in header.splitlines()
                    if line.startswith("Requires-Dist:")]
        files: list[str] = []
        record = info / "RECORD"
        if record.exists():
            for line in record.read_text(encoding="utf-8").splitlines():
                path = line.rsplit(",", 2)[0].strip('"')
                if path and not path.startswith("..") and "__pycache__" not in path:
                    files.append(path)
        files.extend(str(p.relative_to(site)) for p in info.iterdir() if p.is_file())
        found[canonical(name)] = Distribution(name=name, requires=requires, files=sorted(set(files)))
    return found


def _applies(requirement: Requirement, extras: Iterable[str], env: Mapping[str, str]) -> bool:
    if requirement.marker is None:
        return True
    marker: Marker = requirement.marker
    return any(marker.evaluate({**env, "extra": extra}) for extra in ("", *extras))


def closure(roots: Iterable[Requirement], installed: Mapping[str, Distribution],
            env: Mapping[str, str] = LAMBDA_MARKER_ENV) -> set[str]:
    """Canonical names of the distributions `roots` pull in on Lambda, skipping what the runtime
    provides and what we never import."""
    seen: set[str] = set()
    extras_seen: dict[str, set[str]] = {}
    todo = [(canonical(r.name), set(r.extras)) for r in roots if _applies(r, (), env)]
    while todo:
        name, extras = todo.pop()
        if name in PROVIDED_BY_RUNTIME or name in UNUSED_BY_US:
            continue
        if name in seen and extras <= extras_seen[name]:
            continue
        if name not in installed:
            raise PartitionError(f"{name} is required but not installed in the layer's pip target")
        seen.add(name)
        extras_seen.setdefault(name, set()).update(extras)
        for requirement in installed[name].requires:
            if _applies(requirement, extras_seen[name], env) and \
                    (name, canonical(requirement.name)) not in UNUSED_EDGES:
                todo.append((canonical(requirement.name), set(requirement.extras)))
    return seen


def layer_roots(requirements: Iterable[str]) -> dict[str, list[Requirement]]:
    """pyproject's runtime requirements grouped by the layer that carries them."""
    roots: dict[str, list[Requirement]] = {CORE: [], **{name: [] for name in SDK_LAYERS}}
    for text in requirements:
        requirement = Requirement(text)
        layer = REQUIREMENT_LAYER.get(canonical(requirement.name))
        if layer is None:
            raise PartitionError(f"runtime dependency {requirement.name!r} is in no Lambda layer; "
                                 "add it to infra_cdk.layer_partition.REQUIREMENT_LAYER")
        roots[layer].append(requirement)
    return roots


def partition(requirements: Iterable[str], site: Path) -> dict[str, list[str]]:
    """Layer name -> the files (relative to `site`) it carries."""
    installed = read_installed(site)
    roots = layer_roots(requirements)
    core = closure(roots[CORE], installed)
    members = {CORE: core, **{name: closure(roots[name], installed) - core for name in SDK_LAYERS}}
    return {name: sorted(f for dist in sorted(dists) for f in installed[dist].files
                         if not f.startswith(UNUSED_PATHS) and not f.endswith(UNUSED_SUFFIXES))
            for name, dists in members.items()}

