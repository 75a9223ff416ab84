"""`sre-copilot eval DIR --fit`: fit confidence weights and mapping; propose, never apply.

`eval DIR --learn`: replay every labelled scenario, let its label act as the person who confirms a
right top hypothesis or rejects a wrong one, replay again with what was learned, and show how the
factors and the confidence of the hypotheses that named the real cause moved.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import mean
from typing import Any

from sre_copilot.errors import InvalidPayload


def _labelled(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    truths = sorted(directory.glob("*.truth.json"))
    if not truths:
        raise InvalidPayload(f"no labelled scenarios (NAME.json + NAME.truth.json) in {directory}")
    return [(t.with_name(t.name.replace(".truth.json", ".json")), json.loads(t.read_text())) for t in truths]


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
                "note": "A proposal: the deployed configuration is unchanged. Review it, then set "
                        "confidence weights in cdk.json context to apply it."}
    out = args.out or args.state_dir / "proposed-confidence.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(proposal, indent=2) + "\n")
    if args.json:
        print(json.dumps({**proposal, "reliability": {"before": cv["before"], "after": cv["after"]}}, indent=2))
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
    print(f"Proposed configuration written to {out} (the deployed one is unchanged)")
    return 0


def cmd_learn(args: argparse.Namespace) -> int:
    from sre_copilot.local.evaluate import matched_pairs, names_label
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
