"""Replay's postmortems as local files: `r.json` gets `r.postmortems/<incident-id>.md` beside it.

The scenario format says a replay result's `postmortem` is the path of a local Markdown file; the
state directory keeps a copy so `sre-copilot postmortem <incident-id>` can print it later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sre_copilot.errors import NotFound


def write_postmortem_files(run: Any, out: Path, state_dir: Path) -> None:
    """Write each postmortem beside `out` and in the state directory; point the result at the file."""
    folder = out.with_name(f"{out.stem}.postmortems")
    kept = state_dir / "postmortems"
    for incident in run.result["incidents"]:
        text = run.postmortems.get(incident["id"])
        if text is None:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        kept.mkdir(parents=True, exist_ok=True)
        path = folder / f"{incident['id']}.md"
        path.write_text(text, encoding="utf-8")
        (kept / f"{incident['id']}.md").write_text(text, encoding="utf-8")
        incident["postmortem"] = str(path)


def read_postmortem(state_dir: Path, incident_id: str) -> str:
    path = state_dir / "postmortems" / f"{incident_id}.md"
    if not path.is_file():
        known = sorted(p.stem for p in (state_dir / "postmortems").glob("*.md")) if (state_dir / "postmortems").is_dir() else []
        hint = f"; postmortems kept: {', '.join(known[-10:])}" if known else "; run `sre-copilot replay` first"
        raise NotFound(f"no postmortem for {incident_id} in {state_dir}{hint}")
    return path.read_text(encoding="utf-8")
