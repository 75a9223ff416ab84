"""`eval`'s report as tables: one row per scenario, then the summary and calibration as rows."""

from __future__ import annotations

from typing import Any

# Column headers people use for the summary keys; unknown keys are shown as they are.
SUMMARY_LABELS = {
    "f1": "grouping F1", "precision": "grouping precision", "recall": "grouping recall",
    "noise_reduction": "noise reduction", "top1": "root cause top-1", "top3": "root cause top-3",
    "change_top1": "change top-1", "incidents": "incidents", "scenarios": "scenarios",
}


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "n/a" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_cell(v)}" for k, v in value.items())
    return str(value)


def render(report: dict[str, Any]) -> str:
    lines = [f"{'scenario':<24} {'F1':>5} {'prec':>5} {'rec':>5} {'noise red.':>10} {'top1':>5} {'top3':>5} "
             f"{'change':>6} {'incidents':>9}"]
    for row in report.get("scenarios", []):
        g, rc = row.get("grouping", {}), row.get("root_cause", {})
        change = rc.get("change_top1")
        lines.append(f"{str(row.get('scenario'))[:24]:<24} {g.get('f1', 0):>5.2f} {g.get('precision', 0):>5.2f} "
                     f"{g.get('recall', 0):>5.2f} {row.get('noise_reduction', 0):>10.2f} {rc.get('top1', 0):>5.2f} "
                     f"{rc.get('top3', 0):>5.2f} {(f'{change:.2f}' if isinstance(change, int | float) else 'n/a'):>6} "
                     f"{row.get('incidents', 0):>9}")
    summary = report.get("summary", {})
    if summary:
        lines += ["", f"{'summary':<30} {'value':>12}"]
        for key, value in summary.items():
            if isinstance(value, dict):  # micro / macro: one row per measure, to stay within 100 columns
                lines.append(f"{key} (over {'all pairs and incidents' if key == 'micro' else 'scenarios, averaged'})")
                lines += [f"  {SUMMARY_LABELS.get(k, k.replace('_', ' ')):<28} {_cell(v):>12}" for k, v in value.items()]
            else:
                lines.append(f"{SUMMARY_LABELS.get(key, key.replace('_', ' ')):<30} {_cell(value):>12}")
    if report.get("baselines"):
        lines += ["", "beside the simple baselines, scored by the same code on the same data",
                  render_margin(report)]
    buckets = [b for b in report.get("calibration", {}).get("buckets", []) if b.get("count")]
    if buckets:
        brier = report["calibration"].get("brier")
        lines += ["", f"calibration (Brier {_cell(brier)})", f"{'confidence':<16} {'accuracy':>9} {'n':>6}"]
        lines += [f"{b.get('range')!s:<16} {_cell(b.get('accuracy')):>9} {b.get('count'):>6}" for b in buckets]
    return "\n".join(lines)


def render_margin(report: dict[str, Any]) -> str:
    """Micro figures of the product beside the two simple baselines, scored by the same code; each
    baseline shows only the measures it is a baseline of (`BASELINE_MEASURES`)."""
    from sre_copilot.evaluation.scoring import BASELINE_MEASURES

    keys = [("f1", "pair F1"), ("precision", "P"), ("recall", "R"), ("top1", "ent@1"), ("top3", "ent@3"),
            ("service_top1", "svc@1"), ("service_top3", "svc@3")]
    rows = [("sre-copilot", report["summary"]["micro"], tuple(k for k, _label in keys))]
    names = {"time_gap": "time gap 2 min", "most_alerts": "most alerts|truth"}
    if report.get("llm_summary"):  # the LLM proposes on top; the row above is the deterministic product
        rows.append(("+ LLM proposals", report["llm_summary"]["micro"], tuple(k for k, _label in keys)))
    rows += [(names.get(k, k), v["micro"], BASELINE_MEASURES.get(k, ()))
             for k, v in (report.get("baselines") or {}).items()]
    out = [f"{'micro':<18}" + "".join(f"{label:>8}" for _k, label in keys)]
    for name, micro, measures in rows:
        out.append(f"{name:<18}" + "".join(f"{_number(micro.get(k) if k in measures else None):>8}"
                                           for k, _label in keys))
    return "\n".join(out)


def _number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) and not isinstance(value, bool) else "n/a"
