"""Recommendation engine (seed 001 "RECOMMENDATION ENGINE") and the runbook corpus it searches.

Each presented hypothesis maps to known remediation actions (its fault class decides which), each
action gets a risk level, an estimated MTTR reduction, a blast radius from the catalog and the
runbook that vector search finds for it.

Action vocabulary (targets in brackets): rollback [deployment/<svc>], disable_flag [flag/<change>],
restart [deployment/<svc> or pod/<instance>], scale_out [deployment/<svc>], drain_host and
cordon_host [node/<host>], failover [the datastore's resource], escalate [team/<team>].
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from sre_copilot.domain.action import Recommendation
from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.reasoning import Decision, Hypothesis
from sre_copilot.domain.types import EntityKind, Risk
from sre_copilot.errors import InvalidPayload
from sre_copilot.ports.knowledge import Embedder, VectorIndex
from sre_copilot.reasoning.context import is_managed

# -- runbooks ---------------------------------------------------------------------------------------
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?(.*)\Z", re.DOTALL)


class Runbook(BaseModel):
    id: str
    title: str
    fault_classes: list[str] = Field(default_factory=list)
    actions: list[str] = Field(default_factory=list)
    body: str = ""
    source: str = "starter"
    path: str | None = None

    def embedding_text(self) -> str:
        # Title and classes lead (and the title repeats) so they outweigh incidental body words.
        return "\n".join([self.title, self.title, " ".join(self.fault_classes), " ".join(self.actions), self.body])

    @property
    def digest(self) -> str:
        return hashlib.sha1(self.embedding_text().encode()).hexdigest()[:16]


def parse_runbook(text: str, *, source: str = "user", path: str | None = None) -> Runbook:
    """A Markdown runbook with YAML front matter: id, title, fault_classes, actions."""
    where = path or "runbook"
    match = _FRONT.match(text.lstrip("\ufeff"))
    if not match:
        raise InvalidPayload(f"{where} has no front matter; start it with '---', then id/title/fault_classes/actions, then '---'")
    import yaml  # only where runbooks are parsed: it costs a cold start ~10% of a step's imports

    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise InvalidPayload(f"{where} front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise InvalidPayload(f"{where} front matter must be a mapping of id, title, fault_classes, actions")
    runbook_id = str(meta.get("id") or "")
    if not _ID.match(runbook_id):
        raise InvalidPayload(f"{where} needs an id of lower-case letters, digits, '.', '_' or '-' (got {runbook_id!r})")

    def listed(key: str) -> list[str]:
        value = meta.get(key) or []
        return [str(v) for v in (value if isinstance(value, list) else [value])]
    try:
        return Runbook(id=runbook_id, title=str(meta.get("title") or runbook_id), fault_classes=listed("fault_classes"),
                       actions=listed("actions"), body=match.group(2).strip(), source=source, path=path)
    except ValidationError as exc:
        raise InvalidPayload(f"{where} is not a valid runbook: {exc.errors()[0]['msg']}") from exc


def load_runbook(path: Path, source: str = "user") -> Runbook:
    return parse_runbook(path.read_text(encoding="utf-8"), source=source, path=str(path))


def starter_runbooks() -> list[Runbook]:
    """The runbooks shipped in `sre_copilot/runbooks/*.md`."""
    folder = resources.files("sre_copilot") / "runbooks"
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".md"):
            out.append(parse_runbook(entry.read_text(encoding="utf-8"), source="starter", path=f"starter:{entry.name}"))
    return out


COLLECTION = "runbooks"


def _upsert(runbooks: Iterable[Runbook], index: VectorIndex, embedder: Embedder, tenant_id: str | None = None) -> int:
    """With a tenant, each runbook is that tenant's own document (`<tenant>:<id>`, `tenant_id` set),
    which only that tenant's searches find; without one, an unscoped document (one team per index)."""
    batch = list(runbooks)
    if not batch:
        return 0
    vectors = embedder.embed([r.embedding_text() for r in batch])
    for runbook, vector in zip(batch, vectors, strict=True):
        document = {**runbook.model_dump(mode="json"), "digest": runbook.digest}
        if tenant_id is None:
            index.upsert(COLLECTION, runbook.id, vector, document)
        else:
            index.upsert(COLLECTION, f"{tenant_id}:{runbook.id}", vector, {**document, "tenant_id": tenant_id})
    return len(batch)


def index_runbooks(paths: list[Path], index: VectorIndex, embedder: Embedder, tenant_id: str | None = None) -> int:
    """Index Markdown runbooks (`sre-copilot runbooks index DIR --tenant T`) for `tenant_id`; a user
    runbook with the id of a starter one replaces it. Raises InvalidPayload naming the first file
    that does not parse."""
    return _upsert([load_runbook(p) for p in paths], index, embedder, tenant_id)


class RunbookIndex:
    """Runbook search on the vector index: starter runbooks (indexed on first use) plus any the
    user indexed with `index_runbooks` or passed as `paths`. With `tenant_id`, every read and write
    is that tenant's: the starter runbooks are indexed as the tenant's own, and a search finds only
    the tenant's runbooks (the vector index's tenant filter), never another tenant's."""

    def __init__(self, *, index: VectorIndex, embedder: Embedder, paths: Sequence[Path] = (),
                 include_starter: bool = True, tenant_id: str | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.tenant_id = tenant_id
        self._pending: list[Runbook] = [*(starter_runbooks() if include_starter else []),
                                        *(load_runbook(p) for p in paths)]
        self._known: dict[str, Runbook] = {r.id: r for r in self._pending}
        self._ready = False

    @property
    def runbooks(self) -> list[Runbook]:
        return list(self._known.values())

    def ensure_indexed(self) -> None:
        """Write runbooks that are missing or changed. One probe query first, so a warm index (a
        Lambda cold start against OpenSearch) costs one request, not one per runbook."""
        if self._ready:
            return
        if self._pending:
            present = self._present(self._pending)
            stale = [r for r in self._pending if r.id not in present or (
                present[r.id][0] != r.digest and (r.source != "starter" or present[r.id][1] == "starter"))]
            _upsert(stale, self.index, self.embedder, self.tenant_id)
        self._ready = True

    def _present(self, runbooks: list[Runbook]) -> dict[str, tuple[str, str]]:
        """id -> (digest, source) of the runbooks already in the index."""
        probe = self.embedder.embed([runbooks[0].embedding_text()])[0]
        return {str(doc.get("id")): (str(doc.get("digest")), str(doc.get("source", "starter")))
                for _, doc in self.index.query(COLLECTION, probe, len(runbooks) + 64, tenant_id=self.tenant_id)}

    def search(self, text: str, k: int = 3) -> list[tuple[float, Runbook]]:
        self.ensure_indexed()
        vector = self.embedder.embed([text])[0]
        out: list[tuple[float, Runbook]] = []
        seen: set[str] = set()
        for score, doc in self.index.query(COLLECTION, vector, k + 4, tenant_id=self.tenant_id):
            try:
                runbook = Runbook.model_validate({k_: v for k_, v in doc.items() if k_ not in ("digest", "tenant_id")})
            except ValidationError:
                continue
            if runbook.id in seen:
                continue
            seen.add(runbook.id)
            self._known.setdefault(runbook.id, runbook)
            out.append((score, runbook))
            if len(out) >= k:
                break
        return out

    def corpus_text(self, max_chars: int = 60_000) -> str:
        """All known runbooks as one document (the LLM assistant's cached system block)."""
        parts = [f"## {r.id}: {r.title}\nfault classes: {', '.join(r.fault_classes)}; actions: "
                 f"{', '.join(r.actions)}\n{r.body}" for r in self.runbooks]
        return "\n\n".join(parts)[:max_chars]


# -- recommendations --------------------------------------------------------------------------------
_RISK_ORDER = (Risk.LOW, Risk.MEDIUM, Risk.HIGH, Risk.CRITICAL)
ACTION_RISK: dict[str, Risk] = {
    "escalate": Risk.LOW, "scale_out": Risk.LOW, "disable_flag": Risk.LOW, "cordon_host": Risk.LOW,
    "rollback": Risk.MEDIUM, "restart": Risk.MEDIUM, "drain_host": Risk.MEDIUM, "failover": Risk.HIGH,
}
DISRUPTIVE = frozenset({"rollback", "restart", "drain_host", "failover"})
_RISK_PENALTY: dict[Risk, float] = {Risk.LOW: 0.0, Risk.MEDIUM: 0.1, Risk.HIGH: 0.25, Risk.CRITICAL: 0.5}


def _actions_for(h: Hypothesis, catalog: Catalog) -> list[str]:
    managed = is_managed(catalog, h.service or h.entity)
    if h.entity_kind is EntityKind.HOST:
        return ["drain_host", "cordon_host"]
    table: dict[str, list[str]] = {
        "bad deploy": ["rollback"], "bad rollback": ["rollback"], "bad config change": ["rollback"],
        "bad infra change": ["rollback", "escalate"], "bad feature flag": ["disable_flag", "rollback"],
        "bad scaling change": ["scale_out"],
        "dependency outage": ["failover", "escalate"] if managed else ["restart", "scale_out"],
        "saturation": ["escalate"] if managed else ["scale_out", "restart"],
        "instance failure": ["restart"], "memory leak": ["restart", "scale_out"],
        "certificate expiry": ["escalate"], "dns failure": ["escalate"], "queue backlog": ["scale_out"],
    }
    return table.get(h.fault, ["escalate"])


def _target(action: str, h: Hypothesis, catalog: Catalog) -> str:
    if action in ("drain_host", "cordon_host"):
        return f"node/{h.entity}"
    if action == "disable_flag":
        return f"flag/{h.change_id or h.entity}"
    name = h.service or h.entity
    service = catalog.service(name)
    if action == "escalate":
        return f"team/{service.team}" if service and service.team else f"service/{name}"
    if action == "restart" and h.entity_kind is EntityKind.INSTANCE:
        return f"pod/{h.entity}"
    if service is None:
        return f"service/{name}"
    runtime: dict[str, Any] = service.runtime
    if action == "failover" or is_managed(catalog, name):
        return str(runtime.get("resource") or runtime.get("arn") or f"datastore/{name}")
    return str(runtime.get("workload") or f"deployment/{name}")


def blast_radius(h: Hypothesis, catalog: Catalog) -> list[str]:
    """Services that could be hurt by acting on the target: everything that transitively calls
    the target service, or for a host every service with an instance on it."""
    if h.entity_kind is EntityKind.HOST:
        return sorted({svc for svc, _ in catalog.instances_on_host(h.entity)})
    name = h.service or h.entity
    seen: set[str] = set()
    stack = [name]
    while stack:
        for caller in catalog.callers(stack.pop()):
            if caller not in seen and caller != name:
                seen.add(caller)
                stack.append(caller)
    return sorted(seen)


def assess_risk(action: str, h: Hypothesis, catalog: Catalog, radius: list[str]) -> Risk:
    """Base risk of the action, one level up for each aggravating factor on a disruptive action:
    a tier-1 target, a wide blast radius (5+ services), a hypothesis below 0.5 confidence."""
    level = _RISK_ORDER.index(ACTION_RISK.get(action, Risk.MEDIUM))
    if action in DISRUPTIVE:
        service = catalog.service(h.service or h.entity)
        level += int(bool(service and service.tier == 1))
        level += int(len(radius) >= 5)
        level += int(h.confidence < 0.5)
    return _RISK_ORDER[min(level, len(_RISK_ORDER) - 1)]


def _runbook_for(action: str, h: Hypothesis, catalog: Catalog, runbooks: RunbookIndex | None) -> str | None:
    if runbooks is None:
        return None
    try:
        found = runbooks.search(f"{h.fault} {action.replace('_', ' ')} {h.summary}", 5)
    except Exception:  # retrieval only names a runbook; a broken index must not block the remedy
        return None
    if not found:
        return None
    service = catalog.service(h.service or h.entity)
    own = set(service.runbooks) if service else set()
    for _, runbook in found:
        if runbook.id in own and (action in runbook.actions or h.fault in runbook.fault_classes):
            return runbook.id
    for _, runbook in found:
        if h.fault in runbook.fault_classes and action in runbook.actions:
            return runbook.id
    for _, runbook in found:
        if h.fault in runbook.fault_classes or action in runbook.actions:
            return runbook.id
    return found[0][1].id


def recommend(hypotheses: list[Hypothesis], *, decision: Decision, catalog: Catalog, runbooks: RunbookIndex | None,
              top: int = 3) -> list[Recommendation]:
    """Recommendations for the presented hypotheses, best hypothesis first and, within one, the
    primary action first (so `[0]` is what to do now)."""
    # Only deterministic hypotheses choose a remediation: an LLM hypothesis may be shown on the card,
    # but whatever its score, it never drives a plan (docs/security.md).
    by_id = {h.id: h for h in hypotheses if h.generator != "llm"}
    chosen = [by_id[i] for i in decision.presented if i in by_id][:top]
    out: list[Recommendation] = []
    for h in chosen:
        radius = blast_radius(h, catalog)
        actions = [(action, assess_risk(action, h, catalog, radius)) for action in _actions_for(h, catalog)]
        # A critical-risk primary would only be blocked by the safety gates; lead with a safer alternative.
        if len(actions) > 1 and actions[0][1] is Risk.CRITICAL:
            actions.sort(key=lambda pair: pair[1] is Risk.CRITICAL)
        for position, (action, risk) in enumerate(actions):
            out.append(Recommendation(
                hypothesis_id=h.id, action=action, target=_target(action, h, catalog), risk=risk,
                runbook=_runbook_for(action, h, catalog, runbooks),
                rationale=f"{h.fault} on {h.entity} ({h.confidence:.2f}): {h.summary}"[:1000],
                # No MTTR saving is claimed: nothing measured supports one (a constant times the
                # confidence was shown before, as if it were measured).
                estimated_mttr_reduction_min=0.0, blast_radius=radius,
                score=round(h.confidence * (1.0 - _RISK_PENALTY[risk]) * (1.0 if position == 0 else 0.8), 4),
            ))
    return out
