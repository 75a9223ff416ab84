"""`sre-copilot postmortem | resolve | feedback`: closing an incident and teaching the copilot.

`postmortem` prints a replayed incident's postmortem from the state directory. `resolve` and
`feedback` act on the deployed stack (SRE_COPILOT_* settings and your AWS credentials), like
`silence`; `feedback --learning FILE` records the verdict in a local learning file instead, which
`replay --learning FILE` loads, so a replay after a confirmation shows what the copilot learned.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import Any


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("postmortem", help="print the postmortem of a replayed incident")
    p.add_argument("incident_id", help="an incident id printed by replay or demo, or a postmortem .md file "
                                       "(e.g. copied from the deployed bucket)")
    p.add_argument("--pdf", type=Path, help="also write it as a PDF to this file (needs the pdf extra: fpdf2)")

    p = sub.add_parser("resolve", help="resolve an incident now and write its postmortem (deployed stack)")
    p.add_argument("incident_id", help="the deployed incident to resolve")
    p.add_argument("--reason", default="resolved from the CLI",
                   help="why, for the timeline and the audit trail (default: %(default)s)")
    p.add_argument("--by", default="", help="who resolves (default: your login name)")

    p = sub.add_parser("feedback", help="confirm or reject a hypothesis (deployed stack, or --learning FILE)")
    p.add_argument("incident_id", help="the incident whose hypothesis you judge")
    p.add_argument("verdict", choices=("confirm", "reject"),
                   help="confirm: it was the cause; reject: it was not")
    p.add_argument("--rank", type=int, default=1, help="the hypothesis's rank (default: the top one)")
    p.add_argument("--by", default="", help="who gives the verdict (default: your login name)")
    p.add_argument("--learning", type=Path, help="local learning file that `replay --learning` loads")
    p.add_argument("--scenario", type=Path, help="the scenario whose replay holds the incident (with --learning)")


def _actor(args: argparse.Namespace) -> str:
    return f"cli:{args.by or getpass.getuser()}"


def cmd_postmortem(args: argparse.Namespace) -> int:
    from sre_copilot.cli.postmortem_files import read_postmortem

    given = Path(args.incident_id)
    text = (given.read_text(encoding="utf-8") if given.suffix == ".md" and given.is_file()
            else read_postmortem(args.state_dir, args.incident_id))
    print(text, end="")
    if getattr(args, "pdf", None):
        from sre_copilot.cli.postmortem_pdf import write_pdf

        print(f"PDF written to {write_pdf(text, args.pdf, title=f'Postmortem {args.incident_id}')}")
    return 0


def cmd_resolve(args: argparse.Namespace) -> int:
    from sre_copilot.services.container import get_container
    from sre_copilot.services.resolution import ResolutionService

    changed = ResolutionService(get_container()).resolve(args.incident_id, actor=_actor(args), reason=args.reason)
    print(f"{args.incident_id}: {'resolved; postmortem under way' if changed else 'already resolved'}")
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    if args.learning is not None:
        from sre_copilot.local.learning import record_local_verdict

        print(record_local_verdict(args.learning, args.scenario, args.incident_id, args.verdict == "confirm",
                                   rank=args.rank, actor=_actor(args)))
        return 0
    from sre_copilot.services.container import get_container
    from sre_copilot.services.feedback import FeedbackService

    service = FeedbackService(get_container())
    verb = service.confirm if args.verdict == "confirm" else service.reject
    outcome = verb(args.incident_id, actor=_actor(args), rank=args.rank)
    counted = "recorded" if outcome["counted"] else "already recorded"
    print(f"{args.incident_id}: {args.verdict} {outcome.get('confirmed') or outcome.get('rejected')} ({counted})")
    return 0
