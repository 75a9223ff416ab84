"""`make demo` reads at a glance: 100 columns, alerts by title, one card, the postmortem shown."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_demo_fits_100_columns_names_alerts_and_shows_one_card_and_the_postmortem(tmp_path: Path) -> None:
    # When the bundled demo runs
    done = subprocess.run([sys.executable, "-m", "sre_copilot.cli.main", "--state-dir",
                           ".sre-copilot", "demo"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    # Then no line is wider than 100 columns
    too_wide = [line for line in lines if len(line) > 100]
    assert not too_wide, too_wide[:3]
    # And it says plainly that it acts live locally while the deployed default is a dry run
    assert "dry_run: true" in done.stdout and "local simulated Kubernetes cluster" in done.stdout
    # And grouping reasons name alerts by title, never by signal id
    grouping = [line for line in lines if line.startswith("│  · ")]
    assert grouping and not any("sig-" in line for line in grouping)
    # And the execution history is one short line per state
    assert any("ScoreConfidence" in line and "top bad deploy on checkout" in line for line in lines)
    # And there is one Slack card, edited in place, with its thread, and its header as written
    assert sum(1 for line in lines if line.startswith("Slack #")) == 1
    assert "  ┃ P0 CheckoutAPI 5xx rate above SLO" in lines
    assert any(line.startswith("  ↳ thread") and "LEARNED" in line for line in lines)
    # And the postmortem is printed and written to the file it names
    [postmortem] = list((tmp_path / ".sre-copilot" / "postmortems").glob("*.md"))
    assert f"also written to {postmortem.relative_to(tmp_path)}" in done.stdout.replace("\n  ", " ")
    assert "# Postmortem: CheckoutAPI 5xx rate above SLO" in done.stdout
    # And no MTTR saving is claimed
    assert "MTTR reduction" not in done.stdout
    # And the replay result holds one page-kind Slack notification (the card) for the incident
    result = json.loads((tmp_path / ".sre-copilot" / "demo-checkout-bad-deploy.result.json").read_text())
    [incident] = result["incidents"]
    assert [n["kind"] for n in incident["notifications"] if n["channel"] == "slack"].count("page") == 1
