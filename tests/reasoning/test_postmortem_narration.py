"""Optional LLM prose for postmortems, through the real `anthropic` client against a local server."""

from __future__ import annotations

from typing import Any

import anthropic
from reasoning_http import json_reply, local_server

from sre_copilot.adapters.anthropic_narrator import narrate, unsupported_numbers

DRAFT = ("# Postmortem: HighErrorRate checkout\n- Time to acknowledge | 2.0 min\n"
         "**bad deploy** on **checkout**, triggered by change `deploy-42` (confidence 0.81).\n")


def _text(text: str) -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 300, "output_tokens": 80}}


def _client(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test-key-000000000000", base_url=url, max_retries=0, timeout=5.0)


def test_prose_that_keeps_to_the_drafts_facts_is_returned() -> None:
    prose = "A bad deploy (deploy-42) broke checkout; the page was acknowledged in 2.0 min. Confidence 0.81."
    with local_server(lambda r: json_reply(200, _text(prose))) as server:
        assert narrate(_client(server.url), "claude-sonnet-4-5", DRAFT) == prose
        sent = server.requests[0].json
    # And the draft went as data, inside its tags, under instructions that forbid new facts
    assert "<draft>" in sent["messages"][0]["content"] and "Do not add" in sent["system"]


def test_prose_that_invents_a_number_is_discarded() -> None:
    invented = "A bad deploy broke checkout for 45 minutes, affecting 12000 users."
    assert unsupported_numbers(invented, DRAFT) == ["45", "12000"]
    with local_server(lambda r: json_reply(200, _text(invented))) as server:
        assert narrate(_client(server.url), "claude-sonnet-4-5", DRAFT) is None
