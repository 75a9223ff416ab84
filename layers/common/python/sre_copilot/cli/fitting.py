"""`sre-copilot eval DIR --fit`: fit confidence weights and mapping; propose, never apply silently.

`--apply` writes the fitted calibration record (reasoning.calibrated) into cdk.json context
`confidence_calibration`, one version up: a reviewed file change that the next `cdk deploy` ships.
`--check-applied` measures the record as deployed: each scenario is replayed through the real
scorer with the calibration fitted on the other scenarios (leave-one-scenario-out), so the figures
are what the deployed pipeline reports on incidents the fit never saw.

`eval DIR --learn`: replay every labelled scenario, let its label act as the person who confirms a
right top hypothesis or rejects a wrong one, replay again with what was learned, and show how the
factors and the confidence of the hypotheses that named the real cause moved.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean
from typing import Any

from sre_copilot.errors import InvalidPayload
from sre_copilot.evaluation.scoring import labelled_scenarios


def _labelled(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    labelled = labelled_scenarios(directory)
    if not labelled:
        raise InvalidPayload(f"no labelled scenarios (NAME.json + NAME.truth.json) in {directory}")
    return [(scenario, json.loads(truth.read_text())) for scenario, truth in labelled]


def cmd_fit(args: argparse.Namespace) -> int:
    from sre_copilot.local.replay import Scenario, replay
    from sre_copilot.reasoning.confidence import DEFAULT_WEIGHTS
    from sre_copilot.reasoning.fitting import FACTORS, cross_validate, examples_from_result, fit

    examples = []
    for path, truth in _labelled(args.directory):
        result = replay(Scenario.load(path), approve="none").result
        examples += examples_from_result(path.stem, result, truth, json.loads(path.read_text()))
    if len({e.correct for e in examples}) < 2:
        raise InvalidPayload("the labelled hypotheses are all right or all wrong; nothing to fit")
    prior = [getattr(DEFAULT_WEIGHTS, name) for name in FACTORS]
    cv = cross_validate(examples, prior)
    final = fit(examples, prior)
    proposal = {"format": "sre-copilot/confidence-proposal@1", "fitted_on": str(args.directory),
                "examples": len(examples), "cross_validation": {k: v for k, v in cv.items()
                                                                 if k in ("folds", "examples")},
                "brier_before": cv["before"].get("brier"), "brier_after_cv": cv["after"].get("brier"),
                **final.as_config(),
                "current_weights": dict(zip(FACTORS, prior, strict=True)),
                "note": "A proposal: the deployed configuration is unchanged. Review it, then run "
                        "`eval --fit --apply` (or copy confidence_calibration into cdk.json context)."}
    figures = {"folds": cv["folds"], "examples": cv["examples"],
               **{f"{k}_{side}": cv[side].get(k) for k in ("brier", "ece") for side in ("before", "after")}}
    record = final.as_calibration(version=_deployed_version(args.cdk_json) + 1, fitted_on=str(args.directory),
                                  fitted_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                  examples=len(examples), cross_validation=figures)
    proposal["confidence_calibration"] = record
    out = args.out or args.state_dir / "proposed-confidence.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(proposal, indent=2) + "\n")
    applied = check_applied(args.directory, prior) if args.check_applied else None
    if args.apply:
        write_calibration(args.cdk_json, record)
    if args.json:
        print(json.dumps({**proposal, "reliability": {"before": cv["before"], "after": cv["after"]},
                          "applied_check": applied, "applied_to": str(args.cdk_json) if args.apply else None},
                         indent=2))
        return 0
    print(f"Confidence fit on {len(examples)} hypotheses of {cv['folds']} labelled scenarios "
          f"({sum(e.correct for e in examples)} named the real cause); leave-one-scenario-out cross-validation")
    print(f"{'':<22}{'before (deployed)':>20}{'after (held out)':>20}")
    for key in ("brier", "ece", "mean_confidence", "accuracy"):
        print(f"{key:<22}{_fmt(cv['before'].get(key)):>20}{_fmt(cv['after'].get(key)):>20}")
    print("reliability (confidence bucket: count, share right, mean confidence), before -> after:")
    for b, a in zip(cv["before"].get("buckets", []), cv["after"].get("buckets", []), strict=True):
        if b["count"] or a["count"]:
            print(f"  {b['range']}: {b['count']:>3} {_fmt(b['accuracy']):>6} {_fmt(b['mean_confidence']):>6}"
                  f"   ->  {a['count']:>3} {_fmt(a['accuracy']):>6} {_fmt(a['mean_confidence']):>6}")
    print("weights, current -> proposed: " + ", ".join(
        f"{name.replace('_', ' ')} {p:.2f}->{w:.2f}" for name, p, w in zip(FACTORS, prior, final.weights, strict=True)))
    print(f"mapping: 1/(1+exp(-({final.a:.2f} * score + {final.b:.2f})))")
    if applied:
        print("applied through the scorer, each scenario replayed with the calibration fitted on the others:")
        for key in ("brier", "ece", "mean_confidence", "accuracy"):
            print(f"{key:<22}{_fmt(applied['before'].get(key)):>20}{_fmt(applied['after'].get(key)):>20}")
    if args.apply:
        print(f"Calibration v{record['version']} written to {args.cdk_json} (context confidence_calibration); "
              f"`cdk deploy` ships it. Proposal also in {out}")
    else:
        print(f"Proposed configuration written to {out} (the deployed one is unchanged; --apply writes it to "
              f"{args.cdk_json})")
    return 0


def _context(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidPayload(f"{path} not found; pass --cdk-json with the deployment's cdk.json") from exc
    if not isinstance(document, dict) or not isinstance(document.get("context"), dict):
        raise InvalidPayload(f"{path} has no context object; is it a CDK app's cdk.json?")
    return document


def _deployed_version(path: Path) -> int:
    if not path.exists():
        return 0
    current = _context(path)["context"].get("confidence_calibration") or {}
    return int(current.get("version") or 0)


def write_calibration(path: Path, record: dict[str, Any]) -> None:
    """Set context.confidence_calibration, keeping every other key and the key order."""
    from sre_copilot.reasoning.calibrated import parse_calibration

    parse_calibration(record)  # never write a record the functions would refuse
    document = _context(path)
    document["context"]["confidence_calibration"] = record
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def check_applied(directory: Path, prior: list[float]) -> dict[str, Any]:
    """Leave-one-scenario-out, through the deployed path: fit on the other scenarios' hypotheses,
    replay the held-out scenario with that record in the functions' settings, and measure the
    confidence the scorer reported. `before` is the same scenarios replayed with the identity."""
    from sre_copilot.local.replay import Scenario, replay
    from sre_copilot.reasoning.calibration import calibration
    from sre_copilot.reasoning.fitting import examples_from_result, fit

    labelled = _labelled(directory)
    per_scenario = {}
    for path, truth in labelled:
        result = replay(Scenario.load(path), approve="none").result
        per_scenario[path.stem] = examples_from_result(path.stem, result, truth, json.loads(path.read_text()))
    before: list[tuple[float, bool]] = []
    after: list[tuple[float, bool]] = []
    for path, truth in labelled:
        train = [ex for name, exs in per_scenario.items() if name != path.stem for ex in exs]
        if len({e.correct for e in train}) < 2:
            continue
        record = fit(train, prior).as_calibration(version=1, fitted_on=f"{directory} without {path.stem}",
                                                  fitted_at="", examples=len(train), cross_validation={})
        result = replay(Scenario.load(path), approve="none", calibration=json.dumps(record)).result
        held = examples_from_result(path.stem, result, truth, json.loads(path.read_text()))
        before += [(e.confidence, e.correct) for e in per_scenario[path.stem]]
        after += [(e.confidence, e.correct) for e in held]
    return {"before": calibration(before), "after": calibration(after)}


def cmd_learn(args: argparse.Namespace) -> int:
    from sre_copilot.evaluation.scoring import matched_pairs, names_label
    from sre_copilot.local.replay import Scenario, replay

    moves: dict[str, list[tuple[float, float]]] = {"precedent_frequency": [], "human_validation": [], "confidence": []}
    rejected: list[tuple[float, float]] = []
    for path, truth in _labelled(args.directory):
        scenario = Scenario.load(path)
        document = json.loads(path.read_text())
        first = replay(scenario, approve="none")
        verdicts, watched = [], []
        for incident, label in matched_pairs(truth, first.result):
            if not incident.get("hypotheses"):
                continue
            top = incident["hypotheses"][0]
            right = names_label(top, label, document)
            verdicts.append({"incident_id": incident["id"], "accepted": right, "rank": 1, "actor": "label"})
            watched.append((incident["id"], top, right))
        taught = replay(scenario, approve="none", verdicts=verdicts)
        again = {i["id"]: i for i in replay(scenario, approve="none", learning=taught.learning).result["incidents"]}
        for incident_id, before, right in watched:
            after = next((h for h in (again.get(incident_id) or {}).get("hypotheses", [])
                          if h["entity"] == before["entity"] and h["fault"] == before["fault"]), None)
            if after is None:
                continue
            if right:
                for key in ("precedent_frequency", "human_validation"):
                    moves[key].append((before["factors"][key], after["factors"][key]))
                moves["confidence"].append((before["confidence"], after["confidence"]))
            else:
                rejected.append((before["confidence"], after["confidence"]))
    print("Learning: each scenario replayed, its label confirming a right top hypothesis or rejecting a "
          "wrong one, then replayed with what was learned (means before -> after):")
    for key, pairs in moves.items():
        if pairs:
            print(f"  confirmed, {key.replace('_', ' '):<20} {mean(p[0] for p in pairs):.3f} -> "
                  f"{mean(p[1] for p in pairs):.3f}  ({len(pairs)} hypotheses)")
    if rejected:
        print(f"  rejected, confidence           {mean(p[0] for p in rejected):.3f} -> "
              f"{mean(p[1] for p in rejected):.3f}  ({len(rejected)} hypotheses)")
    return 0


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
