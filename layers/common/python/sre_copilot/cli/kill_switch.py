"""`sre-copilot kill-switch on|off|status`: the emergency stop and per-service disables.

In AWS it writes the SSM parameters under `SRE_COPILOT_CONTROLS_PATH` (the stack's
`/sre-copilot/<environment>/controls`), which every function re-reads within 60 s; Parameter Store
keeps each change's version, date and IAM identity. With `--local` it writes
`<state-dir>/controls.json`, which `replay` and `demo` load into the embedded backend's (moto) SSM.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sre_copilot.runtime_settings import CONTROL_NAMES, RuntimeControls, parse_controls

LOCAL_CONTROLS_FILE = "controls.json"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("kill-switch", help="stop every automated action (or one service's) within 60 s")
    p.add_argument("state", choices=("on", "off", "status"),
                   help="on: stop automated actions; off: allow them again; status: show the controls")
    p.add_argument("--service", action="append", default=[],
                   help="only this service (glob, repeatable): add to / remove from disabled_services")
    p.add_argument("--local", action="store_true",
                   help="the embedded backend's controls (<state-dir>/controls.json) instead of AWS SSM")


def local_controls_path(state_dir: Path) -> Path:
    return state_dir / LOCAL_CONTROLS_FILE


def load_local_controls(state_dir: Path) -> RuntimeControls | None:
    """The controls `kill-switch --local` saved, for replay; None when there are none."""
    path = local_controls_path(state_dir)
    if not path.exists():
        return None
    return RuntimeControls.model_validate_json(path.read_text(encoding="utf-8"))


def _read_aws() -> tuple[RuntimeControls, Any, str]:
    from sre_copilot.adapters import aws_clients
    from sre_copilot.settings import get_settings

    settings = get_settings()
    ssm = aws_clients.client("ssm", settings.region)
    path = settings.controls_path.rstrip("/")
    values: dict[str, str] = {}
    kwargs: dict[str, Any] = {"Path": path, "Recursive": False}
    while True:
        page = ssm.get_parameters_by_path(**kwargs)
        values.update({p["Name"].rsplit("/", 1)[-1]: p["Value"] for p in page.get("Parameters", [])})
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return parse_controls(values, where=path), ssm, path


def apply(controls: RuntimeControls, state: str, services: list[str]) -> RuntimeControls:
    if state == "status":
        return controls
    if not services:
        return controls.model_copy(update={"emergency_stop": state == "on"})
    disabled = [s for s in controls.disabled_services if s not in services]
    if state == "on":
        disabled += services
    return controls.model_copy(update={"disabled_services": disabled})


def describe(controls: RuntimeControls, where: str) -> str:
    lines = [f"kill switch ({where})",
             f"  emergency stop     {'ON: no automated action runs' if controls.emergency_stop else 'off'}",
             f"  disabled services  {', '.join(controls.disabled_services) or 'none'}",
             f"  manual override    {', '.join(controls.manual_override) or 'none'}",
             f"  change freezes     {len(controls.change_freezes) or 'none'}"]
    lines += [f"    {f.start:%Y-%m-%d %H:%M} to {f.end:%Y-%m-%d %H:%M} UTC on {', '.join(f.services)}"
              f"{': ' + f.reason if f.reason else ''}" for f in controls.change_freezes]
    lines.append(f"  dry run            {'deployment default' if controls.dry_run is None else controls.dry_run}")
    rules = controls.approvers.rules
    lines.append(f"  approvers          {len(rules)} rule(s), Slack workspace "
                 f"{controls.approvers.slack_team_id or 'not set'}" if rules else
                 "  approvers          none configured: nobody may approve")
    return "\n".join(lines)


def cmd_kill_switch(args: argparse.Namespace) -> int:
    if args.local:
        from sre_copilot.local.runtime import local_controls

        path = local_controls_path(args.state_dir)
        current = load_local_controls(args.state_dir) or local_controls()
        updated = apply(current, args.state, args.service)
        if args.state != "status":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(updated.model_dump_json(indent=1) + "\n", encoding="utf-8")
        print(describe(updated, f"embedded backend, {path}"))
        return 0
    current, ssm, where = _read_aws()
    updated = apply(current, args.state, args.service)
    if args.state != "status":
        # Only the parameters that changed: another operator's edit of another control survives.
        before, after = current.to_parameters(), updated.to_parameters()
        for name in CONTROL_NAMES:
            if before[name] != after[name]:
                ssm.put_parameter(Name=f"{where}/{name}", Value=after[name], Type="String", Overwrite=True)
    print(describe(updated, f"SSM {where}"))
    return 0


def dump_controls(controls: RuntimeControls) -> str:
    return json.dumps(controls.model_dump(mode="json"), indent=1)
