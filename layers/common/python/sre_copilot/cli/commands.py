"""Command implementations (kept apart from argument parsing)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sre_copilot.cli import history as history_view
from sre_copilot.cli.audit import save_trails
from sre_copilot.cli.closing import cmd_feedback, cmd_postmortem, cmd_resolve  # noqa: F401 (dispatched by name)
from sre_copilot.cli.kill_switch import cmd_kill_switch, load_local_controls
from sre_copilot.cli.main import dump
from sre_copilot.cli.postmortem_files import write_postmortem_files
from sre_copilot.cli.tenant_key import cmd_tenant_key  # noqa: F401 (dispatched by name)
from sre_copilot.errors import ConfigurationError, InvalidPayload, NotFound

BUNDLED_DEMO = Path(__file__).resolve().parents[1] / "data" / "demo-checkout-bad-deploy.json"


def _save_run(state_dir: Path, run: Any) -> None:
    executions = state_dir / "executions"
    executions.mkdir(parents=True, exist_ok=True)
    for incident_id, events in run.histories.items():
        (executions / f"{incident_id}.json").write_text(json.dumps({
            "incident_id": incident_id, "scenario": run.scenario.name,
            "events": history_view.serialisable(events),
            "paging_events": history_view.serialisable(run.paging_histories.get(incident_id, []))}, indent=1))
    save_trails(state_dir, run.audits)


def cmd_replay(args: argparse.Namespace) -> int:
    from sre_copilot.cli import preflight
    from sre_copilot.local.replay import Scenario, replay

    preflight.writable_output(args.out)
    scenario = Scenario.load(args.scenario)
    progress = None if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    from sre_copilot.local.learning import load as load_learning

    run = replay(scenario, approve=args.approve, progress=progress, backend=args.backend,
                 controls=load_local_controls(args.state_dir),
                 learning=load_learning(args.learning) if args.learning else None)
    write_postmortem_files(run, args.out, args.state_dir)
    args.out.write_text(dump(run.result) + "\n")
    _save_run(args.state_dir, run)
    r = run.result
    print(f"{scenario.name}: {len(r['signals'])} signals, {len(r['rejected'])} rejected, "
          f"{len(r['ignored'])} ignored, {len(r['incidents'])} incidents -> {args.out}", file=sys.stderr)
    return 0


def cmd_normalize(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from sre_copilot.domain.catalog import Catalog
    from sre_copilot.ingest.normalize import normalize

    catalog = Catalog()
    if args.catalog:
        document = _load_document(args.catalog)
        catalog = Catalog.model_validate(document.get("catalog", document))
    raw = args.file.read_bytes()
    result = normalize(args.source, raw, catalog=catalog, received_at=datetime.now(UTC))
    out: dict[str, Any] = {"kind": result.kind, "signals": [s.model_dump(mode="json") for s in result.signals]}
    if result.ignored_reason:
        out["ignored_reason"] = result.ignored_reason
    if result.lifecycle:
        from sre_copilot.services.ingest_service import hint_to_dict

        out["lifecycle"] = [hint_to_dict(h) for h in result.lifecycle]
    print(dump(out))
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    path = args.state_dir / "executions" / f"{args.incident_id}.json"
    if not path.exists():
        known = sorted(p.stem for p in (args.state_dir / "executions").glob("*.json"))
        hint = f"; replayed incidents: {', '.join(known[-10:])}" if known else "; run `sre-copilot replay` first"
        raise NotFound(f"no execution history for {args.incident_id} in {args.state_dir}{hint}")
    document = json.loads(path.read_text())
    events = document["events"]
    status = next((e["type"].removeprefix("Execution") for e in reversed(events)
                   if e["type"] in ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")),
                  "RUNNING")
    for event in events:
        event["simulatedTimestamp"] = event.get("simulatedTimestamp") or event.get("timestamp")
    print(history_view.render(args.incident_id, history_view.state_rows(events), status))
    paging = document.get("paging_events") or []
    if paging:  # statemachines/escalation.asl.json: every page, timeout and escalation
        print("\nPaging and escalation:\n" + "\n".join(history_view.render(
            f"page-{args.incident_id}", history_view.state_rows(paging), "").splitlines()[2:]))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from sre_copilot.cli.audit import print_trail

    return print_trail(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from sre_copilot.cli.narrative import MODE_NOTE, fit, narrate
    from sre_copilot.local.replay import Scenario, replay

    path = args.scenario or BUNDLED_DEMO
    scenario = Scenario.load(path)
    print(fit(f"== SRE Copilot demo: {scenario.name} ==\n{scenario.description}\n\n{MODE_NOTE}\n"))
    run = replay(scenario, approve=args.approve, progress=lambda msg: print(fit(f"  · {msg}")),
                 controls=load_local_controls(args.state_dir))
    _save_run(args.state_dir, run)
    out = args.state_dir / f"{scenario.name}.result.json"
    out.write_text(dump(run.result) + "\n")
    print(narrate(run, args.state_dir))
    print(f"\nFull result: {out}\nExecution history: sre-copilot history <incident-id>")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from sre_copilot.local.evaluate import evaluate_directory

    if getattr(args, "fit", False) or getattr(args, "learn", False):
        from sre_copilot.cli.fitting import cmd_fit, cmd_learn

        return cmd_fit(args) if args.fit else cmd_learn(args)

    report = evaluate_directory(args.directory, backend=args.backend, llm=_eval_llm(args))
    if args.json:
        print(dump(report))
    else:
        from sre_copilot.cli import eval_table

        print(eval_table.render(report))
    return 0


def _eval_llm(args: argparse.Namespace) -> dict[str, Any] | None:
    """The `llm` secret `eval --llm` replays with, checked before any replay starts."""
    if not getattr(args, "llm", None):
        return None
    from sre_copilot.settings import Settings

    key = Settings().anthropic_api_key
    if not key:
        raise ConfigurationError("eval --llm anthropic needs an API key: set ANTHROPIC_API_KEY")
    return {"api_key": key, "base_url": args.llm_base_url or "", "model": args.llm_model, "max_retries": 2}


def cmd_catalog(args: argparse.Namespace) -> int:
    from sre_copilot.cli import preflight
    from sre_copilot.domain.catalog import Catalog, load_catalog_files

    preflight.writable_output(args.out)
    catalog: Catalog = load_catalog_files(args.files)
    args.out.write_text(dump(catalog.model_dump(mode="json", exclude_none=True)) + "\n")
    print(f"{len(catalog.services)} services -> {args.out}", file=sys.stderr)
    return 0


def cmd_runbooks(args: argparse.Namespace) -> int:
    from sre_copilot.reasoning.recommend import RunbookIndex, index_runbooks
    from sre_copilot.reasoning.vectors import HashingEmbedder, LocalVectorIndex

    args.index.parent.mkdir(parents=True, exist_ok=True)
    index = LocalVectorIndex(path=str(args.index))
    embedder = HashingEmbedder()
    if args.runbooks_command == "index":
        paths = sorted(args.directory.glob("*.md"))
        if not paths:
            raise InvalidPayload(f"no Markdown runbooks (*.md) in {args.directory}")
        count = index_runbooks(paths, index, embedder, tenant_id=args.tenant)
        print(f"indexed {count} runbooks for tenant {args.tenant} into {args.index}")
        return 0
    for score, runbook in RunbookIndex(index=index, embedder=embedder, tenant_id=args.tenant).search(args.text, 5):
        print(f"{score:.3f}  {getattr(runbook, 'id', runbook)}  {getattr(runbook, 'title', '')}")
    return 0


def cmd_silence(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from sre_copilot.cli import preflight
    from sre_copilot.ingest.silences import Silence
    from sre_copilot.ports import clock
    from sre_copilot.services.container import get_container

    preflight.aws_credentials()
    container = get_container()
    tenant = container.settings.tenant_id
    if args.silence_command == "add":
        units = {"m": 60, "h": 3600, "d": 86400}
        text = args.duration.strip().lower()
        if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
            raise InvalidPayload(f"duration '{args.duration}' is not like 30m, 2h or 1d")
        now = clock.now()
        silence = Silence(tenant_id=tenant, matchers=args.matcher, starts_at=now,
                          ends_at=now + timedelta(seconds=int(text[:-1]) * units[text[-1]]),
                          created_by=args.created_by, comment=args.comment,
                          kind="maintenance" if args.maintenance else "silence")
        container.store.put_silence(tenant, silence)
        print(f"{silence.id} until {silence.ends_at.isoformat()}")
    elif args.silence_command == "list":
        for silence in container.store.list_silences(tenant):
            matchers = ", ".join(f"{m.name}{m.op}{m.value}" for m in silence.matchers)
            print(f"{silence.id}  {silence.kind:<11} {silence.starts_at.isoformat()} -> {silence.ends_at.isoformat()}  "
                  f"{matchers}  {silence.comment}")
    else:
        container.store.delete_silence(tenant, args.silence_id)
        print(f"deleted {args.silence_id}")
    return 0


def _load_document(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        loaded = yaml.safe_load(text)
    else:
        loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise InvalidPayload(f"{path} does not hold a JSON/YAML object")
    return loaded


__all__ = ["cmd_kill_switch"]
