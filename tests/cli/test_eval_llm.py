"""`eval --llm`: the LLM's effect is replayed and reported on its own row, never mixed into the
deterministic figures, through the real `anthropic` client against a local Messages API server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sre_copilot.adapters.anthropic_assistant import TOOL_NAME
from sre_copilot.cli.eval_table import render_margin
from sre_copilot.local.evaluate import evaluate_directory

SCENARIOS = Path(__file__).resolve().parents[2].parent / "shared" / "scenarios"


@contextmanager
def proposing_server(hypothesis: dict[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A Messages API that answers the hypothesis tool with `hypothesis`, and any other prompt
    (postmortem prose) with an empty text."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
            proposes = any(tool.get("name") == TOOL_NAME for tool in request.get("tools") or [])
            if proposes:
                seen.append(request)
                content: list[dict[str, Any]] = [{"type": "tool_use", "id": "toolu_1", "name": TOOL_NAME,
                                                  "input": {"hypotheses": [hypothesis]}}]
            else:
                content = [{"type": "text", "text": ""}]
            body = json.dumps({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                               "content": content, "stop_reason": "tool_use" if proposes else "end_turn",
                               "stop_sequence": None, "usage": {"input_tokens": 1000, "output_tokens": 100}}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_the_llm_is_scored_on_its_own_row_and_leaves_the_deterministic_figures_alone(tmp_path: Path) -> None:
    # Given one labelled scenario, and an LLM that proposes the labelled root cause
    for name in ("sample-1-001.json", "sample-1-001.truth.json"):
        (tmp_path / name).write_text((SCENARIOS / name).read_text())
    proposal = {"entity": "auth", "entity_kind": "service", "fault": "dependency outage",
                "summary": "auth's own errors started first"}
    plain = evaluate_directory(tmp_path, backend="memory")
    # When it is evaluated with the LLM
    with proposing_server(proposal) as (url, seen):
        report = evaluate_directory(tmp_path, backend="memory",
                                    llm={"api_key": "sk-ant-local", "base_url": url, "model": "claude-sonnet-4-5",
                                         "max_retries": 0})
    # Then the LLM was asked, in a replay of its own, and its figures sit on their own row
    assert seen, "the workflow's hypothesis step never called the LLM"
    assert report["llm_summary"]["model"] == "claude-sonnet-4-5"
    assert report["llm_summary"]["micro"]["top1"] is not None
    assert "+ LLM proposals" in render_margin(report)
    # And the deterministic figures are those of the evaluation without any LLM
    assert report["summary"] == plain["summary"]
    assert "llm_summary" not in plain and "+ LLM proposals" not in render_margin(plain)
