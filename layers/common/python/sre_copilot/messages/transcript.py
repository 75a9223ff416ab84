"""What Slack, the phone and PagerDuty received, as the terminal shows it (the demo's view of the
local sinks, `local/sinks.py`): each Slack card as plain lines, a re-posted card as the lines that
changed, each call as what it says and what it waits for, each PagerDuty note or status change."""

from __future__ import annotations

import re
from typing import Any

from sre_copilot.domain.types import format_time

_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")


def _plain(text: str) -> str:
    # Slack shows a <url|label> link as its label; the local view marks it as a link.
    text = _LINK.sub(lambda m: f"[{m.group(2)} ↗]", text)
    return (text.replace("*", "").replace("`", "").replace("&lt;", "<").replace("&gt;", ">")
            .replace("&amp;", "&"))


def _slack_block_lines(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        return [_plain(block["text"]["text"])]
    if kind == "divider":
        return ["─" * 40]
    if kind == "section":
        lines = _plain(block["text"]["text"]).splitlines() if block.get("text") else []
        fields = [" ".join(_plain(f["text"]).split("\n")) for f in block.get("fields", [])]
        return lines + ([" | ".join(fields)] if fields else [])
    if kind == "context":
        return ["  " + " ".join(_plain(e.get("text", "")) for e in block.get("elements", []))]
    if kind == "actions":
        return [" ".join(f"[{e['text']['text']}]" for e in block.get("elements", []) if e.get("type") == "button")]
    return [f"({kind} block)"]


def render_transcript(entries: list[tuple[int, str, dict[str, Any]]]) -> str:
    """Entries (arrival order, kind: slack | call | pagerduty, what was recorded) as text."""
    return _Transcript().render(entries)


class _Transcript:
    def __init__(self) -> None:
        self._last_card: dict[str, list[str]] = {}
        self._last_note: dict[tuple[str, str], list[str]] = {}

    def render(self, entries: list[tuple[int, str, dict[str, Any]]]) -> str:
        blocks = []
        for _, kind, item in entries:
            if kind == "slack":
                blocks.append(self._slack(item))
            elif kind == "call":
                blocks.append(_call_lines(item))
            else:
                blocks.append(self._pagerduty(item))
        out: list[str] = []
        previous_reply = False
        for lines in blocks:
            reply = len(lines) == 1 and lines[0].startswith("  ↳ ")
            if out:
                out.append("\n" if reply and previous_reply else "\n\n")
            out.append("\n".join(lines))
            previous_reply = reply
        return "".join(out)

    def _slack(self, message: dict[str, Any]) -> list[str]:
        if message.get("thread_ts") and not message["blocks"]:
            # A reply under the card: one line, as Slack's thread view lists them.
            return [f"  ↳ thread {format_time(message['at'])[11:19]}  {message['text']}"]
        edited = f", edited {message['edits']}x (shown as it reads now)" if message["edits"] else ""
        thread = f" (thread {message['thread_ts']})" if message.get("thread_ts") else ""
        head = f"Slack {message['channel']}{thread} at {format_time(message['at'])}{edited}:"
        body = [line for block in message["blocks"] for line in _slack_block_lines(block)] or [message["text"]]
        previous = self._last_card.get(message["channel"]) if message["blocks"] else None
        if message["blocks"]:
            self._last_card[message["channel"]] = body
        if previous is None:
            return [head] + [f"  ┃ {line}" for line in body]
        changed = [line for line in body if line not in previous]
        if not changed:
            return [head + " the same card again"]
        return [head + f" card updated ({len(body) - len(changed)} lines unchanged)"] + \
            [f"  ┃ {line}" for line in changed]

    def _pagerduty(self, request: dict[str, Any]) -> list[str]:
        incident = request["path"].split("/")[3]
        body = request["body"] or {}
        head = f"PagerDuty {incident} at {format_time(request['at'])}:"
        if request["method"] == "PUT":
            return [f"{head} status → {body['incident'].get('status')}"]
        lines = str(body["note"]["content"]).splitlines() or [""]
        # Notes of one kind (the analysis, a lifecycle move) share their first line; compare like with like.
        key = (incident, lines[0])
        previous = self._last_note.get(key)
        self._last_note[key] = lines
        if previous is None:
            return [f"{head} note"] + [f"  │ {line}" for line in lines]
        changed = [line for line in lines if line not in previous]
        if not changed:
            return [f"{head} the same note again"]
        return [f"{head} note updated ({len(lines) - len(changed)} lines unchanged)"] + \
            [f"  │ {line}" for line in changed]


def _call_lines(call: dict[str, Any]) -> list[str]:
    lines = [f"Phone call to {call['to']} from {call['from']} at {format_time(call['at'])} ({call['sid']}):"]
    prompt = call["prompt"] or call["spoken"]
    lines += [f'  says: "{text}"' for text in prompt]
    if call["gather_action"]:
        lines.append(f"  waits for {call['num_digits']} key(s), answer posted to {call['gather_action']}")
        silence = [text for text in call["spoken"] if text not in prompt]
        lines += [f'  if no key is pressed: "{text}"' for text in silence]
    return lines
