"""`sre-copilot`: replay, normalize, history, demo, eval, catalog and runbook tools.

Every command fails with a one-line reason and a non-zero exit, never a traceback, on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sre_copilot.cli.help import HelpfulParser, source_name, state_dir_default
from sre_copilot.errors import SreCopilotError

DEFAULT_STATE_DIR = state_dir_default()
BACKENDS = ("moto", "memory")
BACKEND_HELP = ("where the table, bucket and queues live: moto (default) or memory (faster; the same "
                "services and state machine)")


def _parser() -> argparse.ArgumentParser:
    from sre_copilot.ingest.normalize import SOURCES

    state_dir = state_dir_default()  # read when parsing, so XDG_CACHE_HOME set by the caller counts
    parser = HelpfulParser(prog="sre-copilot", description="SRE Copilot on the embedded local backend.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    parser.add_argument("--state-dir", type=Path, default=state_dir,
                        help="where replays keep execution histories and results, so `history` finds them "
                             f"from any directory (default: {state_dir})")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("replay", help="replay a scenario end to end and write the result")
    p.add_argument("scenario", type=Path, help="scenario JSON file (../shared/docs/scenario-format.md)")
    p.add_argument("--out", type=Path, required=True, help="file to write the result JSON to")
    p.add_argument("--approve", choices=("none", "all"), default="none",
                   help="how the simulated on-call answers approval requests")
    p.add_argument("--quiet", action="store_true", help="print no progress lines")
    p.add_argument("--backend", choices=BACKENDS, default="moto", help=BACKEND_HELP)
    p.add_argument("--learning", type=Path, help="load what earlier replays learned (see `feedback --learning`)")

    p = sub.add_parser("normalize", help="print the normalised signals of one webhook payload")
    p.add_argument("--source", required=True, type=source_name(list(SOURCES)), metavar="SOURCE",
                   help=f"the webhook's source, case-insensitive: {', '.join(SOURCES)}")
    p.add_argument("file", type=Path, help="the webhook body as received (JSON)")
    p.add_argument("--catalog", type=Path, help="catalog JSON/YAML (native or a scenario file)")

    p = sub.add_parser("history", help="execution history of a replayed incident, as the console shows it")
    p.add_argument("incident_id", help="an incident id printed by replay or demo")

    p = sub.add_parser("audit", help="the audit trail of an incident (a replayed one, or --aws: the deployed table)")
    p.add_argument("incident_id", help="an incident id printed by replay or demo (with --aws: a deployed one)")
    p.add_argument("--aws", action="store_true", help="read the deployed audit table instead")
    p.add_argument("--verify", action="store_true", help="with --aws: compare the trail with its Object Lock "
                                                         "export; exit 1 if a record changed or went")

    p = sub.add_parser("demo", help="replay a bundled incident with a readable narrative")
    p.add_argument("--scenario", type=Path, help="another scenario to narrate (default: the bundled checkout "
                                                  "bad deploy)")
    p.add_argument("--approve", choices=("none", "all"), default="all",
                   help="how the simulated on-call answers approval requests")

    p = sub.add_parser("eval", help="replay every labelled scenario in a directory and print the measures")
    p.add_argument("directory", type=Path, help="a directory of labelled scenario files")
    p.add_argument("--json", action="store_true", help="print the measures as JSON instead of tables")
    p.add_argument("--backend", choices=BACKENDS, default="moto", help=BACKEND_HELP)
    p.add_argument("--fit", action="store_true", help="fit confidence weights and mapping (cross-validated); "
                                                      "write a proposed configuration, change nothing deployed")
    p.add_argument("--learn", action="store_true", help="show what confirming and rejecting hypotheses teaches")
    p.add_argument("--out", type=Path, help="where --fit writes its proposal (default: STATE_DIR/proposed-confidence.json)")
    p.add_argument("--apply", action="store_true", help="with --fit: write the fitted calibration into "
                                                        "cdk.json context confidence_calibration (next deploy ships it)")
    p.add_argument("--cdk-json", type=Path, default=Path("cdk.json"), help="the cdk.json --apply writes")
    p.add_argument("--check-applied", action="store_true", help="with --fit: replay each scenario with the "
                                                                "calibration fitted on the others, through the scorer")
    p.add_argument("--llm", choices=("anthropic",), help="also replay with the LLM proposing hypotheses "
                   "(key from ANTHROPIC_API_KEY) and report its effect on its own row; the figures without it "
                   "are the ones that count (default: no LLM)")
    p.add_argument("--llm-model", default="claude-sonnet-4-5", help="the model --llm proposes with")
    p.add_argument("--llm-base-url", help="a Messages API endpoint other than Anthropic's (a proxy, a local server)")

    p = sub.add_parser("catalog", help="service catalog tools")
    csub = p.add_subparsers(dest="catalog_command", required=True)
    c = csub.add_parser("import", help="convert Backstage catalog-info.yaml files or a native catalog")
    c.add_argument("files", type=Path, nargs="+", help="catalog-info.yaml files (see docs/examples/) or a native catalog")
    c.add_argument("--out", type=Path, required=True, help="file to write the native catalog JSON to")

    p = sub.add_parser("silence", help="silences and maintenance windows in the deployed table (uses SRE_COPILOT_* "
                                       "settings and your AWS credentials)")
    ssub = p.add_subparsers(dest="silence_command", required=True)
    s = ssub.add_parser("add", help="silence matching signals for a while (they open no incident, page no one)")
    s.add_argument("--matcher", action="append", required=True,
                   help="Alertmanager-style matcher, e.g. service=checkout, alertname=~Disk.*, env!=dev (repeatable)")
    s.add_argument("--duration", required=True, help="how long, e.g. 30m, 2h, 1d")
    s.add_argument("--comment", default="", help="why, shown when the silence is listed")
    s.add_argument("--created-by", default="", help="who set it")
    s.add_argument("--maintenance", action="store_true", help="record it as a maintenance window")
    ssub.add_parser("list", help="list silences")
    s = ssub.add_parser("delete", help="end a silence now")
    s.add_argument("silence_id", help="an id printed by `silence add` or `silence list`")

    from sre_copilot.cli.kill_switch import add_parser as add_kill_switch

    add_kill_switch(sub)

    from sre_copilot.cli.tenant_key import add_parser as add_tenant_key

    add_tenant_key(sub)

    p = sub.add_parser("runbooks", help="runbook tools")
    rsub = p.add_subparsers(dest="runbooks_command", required=True)
    r = rsub.add_parser("index", help="index a directory of Markdown runbooks into the local vector index")
    r.add_argument("directory", type=Path, help="Markdown runbooks with front matter (see docs/examples/runbooks/)")
    r.add_argument("--index", type=Path, default=state_dir / "vectors.json", help="the local vector index file")
    r.add_argument("--tenant", default="default", help="the tenant whose runbooks these are (only its searches find them)")
    r = rsub.add_parser("search", help="search the runbooks")
    r.add_argument("text", help="what to look for, e.g. 'checkout errors after deploy'")
    r.add_argument("--index", type=Path, default=state_dir / "vectors.json", help="the local vector index file")
    r.add_argument("--tenant", default="default", help="search this tenant's runbooks")

    from sre_copilot.cli.closing import add_parsers

    add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        from sre_copilot.cli import commands

        handler = getattr(commands, f"cmd_{args.command.replace('-', '_')}")
        return int(handler(args) or 0)
    except SreCopilotError as exc:
        print(f"sre-copilot: {exc.message}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"sre-copilot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"sre-copilot: unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1


def dump(document: Any) -> str:
    return json.dumps(document, indent=2, default=str)


if __name__ == "__main__":
    raise SystemExit(main())
