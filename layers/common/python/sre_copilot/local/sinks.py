"""Local stand-ins for Slack, Twilio and PagerDuty: one HTTP server the real SDK clients talk to.

The server answers the few endpoints the adapters call the way the providers document them
(Slack Web API `{"ok": ...}` envelopes, Twilio's 201 call resource, PagerDuty v2 incident and note
resources, including their authentication failures) and records every request, so tests assert
on what went over the wire and the demo prints what people would have received.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import xml.etree.ElementTree as ET
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from sre_copilot.domain.types import format_time
from sre_copilot.messages.transcript import render_transcript
from sre_copilot.ports import clock

SLACK_PREFIX = "/slack/api/"
SLACK_HOOKS_PREFIX = "/slack/hooks/"  # a slash command's response_url (hooks.slack.com/commands/...)
TWILIO_PREFIX = "/twilio"
PAGERDUTY_PREFIX = "/pagerduty"
TEAMS_PREFIX = "/teams"


@dataclass
class Incoming:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    raw: bytes

    def parsed_body(self) -> Any:
        if not self.raw:
            return None
        content_type = self.headers.get("content-type", "")
        text = self.raw.decode("utf-8", "replace")
        if "json" in content_type:
            try:
                return json.loads(text)
            except ValueError:
                return text
        if "x-www-form-urlencoded" in content_type:
            return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(text, keep_blank_values=True).items()}
        return text


@dataclass
class Outgoing:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


class LocalHttpServer(ABC):
    """A ThreadingHTTPServer on 127.0.0.1:<free port> that records requests and dispatches to `handle`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self._idle = threading.Condition()
        self._in_flight = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> Self:
        if self._server is not None:
            return self
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def _serve(self) -> None:
                owner._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started; call start() or use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- dispatch -----------------------------------------------------------------------------------
    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """Wait until no request is being served, hooks included (they run after the client has its answer)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout_s)

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        with self._idle:
            self._in_flight += 1
        try:
            self._exchange(handler)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _exchange(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        incoming = Incoming(method=handler.command, path=parts.path, query=parse_qs(parts.query),
                            headers={k.lower(): v for k, v in handler.headers.items()},
                            raw=handler.rfile.read(length) if length else b"")
        with self._lock:
            try:
                outgoing = self.handle(incoming)
            except Exception as exc:  # a bug in the stand-in must show up as a 500, not a hung client
                outgoing = Outgoing(500, {"error": f"{type(exc).__name__}: {exc}"})
            self.requests.append({
                "method": incoming.method, "path": incoming.path,
                "query": {k: v[0] if len(v) == 1 else v for k, v in incoming.query.items()},
                "headers": incoming.headers, "body": incoming.parsed_body(), "status": outgoing.status,
                "at": clock.now(),
            })
        payload = outgoing.encoded()
        handler.send_response(outgoing.status)
        handler.send_header("Content-Type", outgoing.content_type)
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in outgoing.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)
        handler.wfile.flush()
        self.after_response(incoming, outgoing)

    @abstractmethod
    def handle(self, request: Incoming) -> Outgoing:
        """Answer one request (each stand-in implements its API here)."""

    def after_response(self, request: Incoming, response: Outgoing) -> None:  # noqa: B027 (optional hook)
        """Runs once the client has its answer (so a hook may call back into the caller)."""


@dataclass
class _Failure:
    prefix: str
    status: int
    body: Any
    headers: dict[str, str]


class LocalSinks(LocalHttpServer):
    """Slack Web API, Twilio REST and PagerDuty REST v2 stand-ins on one port."""

    def __init__(self) -> None:
        super().__init__()
        self.slack_messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[dict[str, Any]] = []
        self.sms: list[dict[str, Any]] = []
        self.teams: list[dict[str, Any]] = []
        self.slack_responses: list[dict[str, Any]] = []
        self.slack_channels: dict[str, dict[str, Any]] = {}
        self.pagerduty_incidents: dict[str, dict[str, Any]] = {}
        self.pagerduty_notes: list[dict[str, Any]] = []
        self.on_call_placed: Callable[[dict[str, Any]], None] | None = None
        self.hook_errors: list[str] = []
        self._failures: list[_Failure] = []
        self._delays: list[tuple[str, float]] = []
        self._slack_seq = 0
        self._call_seq = 0
        self._seq = 0

    # -- URLs the adapters are configured with ----------------------------------------------------------
    @property
    def slack_base_url(self) -> str:
        return self.base_url + SLACK_PREFIX

    def slack_response_url(self, token: str = "T0LOCAL/1/local") -> str:
        """A `response_url` as Slack sends with a slash command, served here."""
        return f"{self.base_url}{SLACK_HOOKS_PREFIX}commands/{token}"

    @property
    def twilio_base_url(self) -> str:
        return self.base_url + TWILIO_PREFIX

    @property
    def pagerduty_base_url(self) -> str:
        return self.base_url + PAGERDUTY_PREFIX

    # -- test controls ------------------------------------------------------------------------------
    def fail_next(self, path_prefix: str, status: int, times: int = 1, body: Any = None,
                  headers: dict[str, str] | None = None) -> None:
        """Answer the next `times` requests under `path_prefix` (e.g. "/pagerduty/incidents") with `status`."""
        with self._lock:
            for _ in range(times):
                self._failures.append(_Failure(path_prefix, status, body if body is not None else
                                               {"error": {"message": f"injected {status}", "code": status}},
                                               dict(headers or {})))

    def delay_next(self, path_prefix: str, seconds: float, times: int = 1) -> None:
        """Answer the next `times` requests under `path_prefix` only after `seconds` (a slow provider)."""
        with self._lock:
            self._delays += [(path_prefix, seconds)] * times

    def requests_to(self, path_prefix: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["path"].startswith(path_prefix)]

    # -- dispatch -------------------------------------------------------------------------------------
    def handle(self, request: Incoming) -> Outgoing:
        delay = next((d for d in self._delays if request.path.startswith(d[0])), None)
        if delay is not None:
            self._delays.remove(delay)
            time.sleep(delay[1])
        self._seq = len(self.requests)  # the index this request's record will get: orders the transcript
        failure = next((f for f in self._failures if request.path.startswith(f.prefix)), None)
        if failure is not None:
            self._failures.remove(failure)
            return Outgoing(failure.status, failure.body, failure.headers)
        if request.path.startswith(SLACK_HOOKS_PREFIX):
            body = request.parsed_body()
            if not isinstance(body, dict) or not body.get("text"):
                return Outgoing(400, "invalid_payload", content_type="text/plain")
            self.slack_responses.append({"at": clock.now(), "url": request.path, **body, "seq": self._seq})
            return Outgoing(200, "ok", content_type="text/plain")
        if request.path.startswith(SLACK_PREFIX):
            return self._slack(request.path[len(SLACK_PREFIX):], request)
        if request.path.startswith(TWILIO_PREFIX + "/"):
            return self._twilio(request.path[len(TWILIO_PREFIX):], request)
        if request.path.startswith(PAGERDUTY_PREFIX + "/"):
            return self._pagerduty(request.path[len(PAGERDUTY_PREFIX):], request)
        if request.path.startswith(TEAMS_PREFIX + "/"):
            return self._teams(request)
        return Outgoing(404, {"error": f"no local sink serves {request.path}"})

    def after_response(self, request: Incoming, response: Outgoing) -> None:
        hook = self.on_call_placed
        if hook is None or response.status != 201 or not request.path.endswith("/Calls.json"):
            return
        try:
            hook(dict(self.calls[-1]))
        except Exception as exc:  # recorded for the test or demo to show; the call itself succeeded
            self.hook_errors.append(f"{type(exc).__name__}: {exc}")

    # -- Slack Web API ---------------------------------------------------------------------------------
    def _slack(self, method: str, request: Incoming) -> Outgoing:
        body = request.parsed_body() or {}
        if not isinstance(body, dict):
            return Outgoing(200, {"ok": False, "error": "invalid_json"})
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or body.get("token")
        if not token:
            return Outgoing(200, {"ok": False, "error": "not_authed"})
        if method == "auth.test":
            return Outgoing(200, {"ok": True, "url": "https://local.slack.invalid/", "team": "local",
                                  "user": "sre-copilot", "team_id": "T0LOCAL", "user_id": "U0COPILOT",
                                  "bot_id": "B0LOCAL"})
        if method == "chat.postMessage":
            return self._slack_post(body)
        if method == "chat.update":
            return self._slack_update(body)
        if method == "conversations.create":
            name = str(body.get("name") or "")
            if any(c["name"] == name for c in self.slack_channels.values()):
                return Outgoing(200, {"ok": False, "error": "name_taken"})
            channel_id = f"C{len(self.slack_channels) + 1:08d}"
            self.slack_channels[channel_id] = {"id": channel_id, "name": name, "members": []}
            return Outgoing(200, {"ok": True, "channel": dict(self.slack_channels[channel_id])})
        if method == "conversations.list":
            return Outgoing(200, {"ok": True, "channels": [dict(c) for c in self.slack_channels.values()]})
        if method == "conversations.invite":
            found = self.slack_channels.get(str(body.get("channel")))
            if found is None:
                return Outgoing(200, {"ok": False, "error": "channel_not_found"})
            found["members"] += [u for u in str(body.get("users") or "").split(",") if u]
            return Outgoing(200, {"ok": True, "channel": dict(found)})
        return Outgoing(200, {"ok": False, "error": "unknown_method"})

    def _slack_blocks(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        blocks = body.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)

    def _slack_post(self, body: dict[str, Any]) -> Outgoing:
        channel = body.get("channel")
        if not channel:
            return Outgoing(200, {"ok": False, "error": "channel_not_found"})
        blocks = self._slack_blocks(body)
        if not body.get("text") and not blocks:
            return Outgoing(200, {"ok": False, "error": "no_text"})
        self._slack_seq += 1
        ts = f"{int(clock.now().timestamp())}.{self._slack_seq:06d}"
        message = {"type": "message", "subtype": "bot_message", "bot_id": "B0LOCAL", "text": body.get("text", ""),
                   "blocks": blocks, "ts": ts, "thread_ts": body.get("thread_ts"), "channel": channel,
                   "at": clock.now(), "edits": 0, "seq": self._seq}
        self.slack_messages[(channel, ts)] = message
        return Outgoing(200, {"ok": True, "channel": channel, "ts": ts,
                              "message": {k: v for k, v in message.items() if k not in ("at", "edits", "channel", "seq")}})

    def _slack_update(self, body: dict[str, Any]) -> Outgoing:
        key = (str(body.get("channel")), str(body.get("ts")))
        message = self.slack_messages.get(key)
        if message is None:
            return Outgoing(200, {"ok": False, "error": "message_not_found"})
        # Slack keeps a message's blocks when the update omits the field and clears them on [].
        blocks = self._slack_blocks(body) if "blocks" in body else message["blocks"]
        message.update(text=body.get("text", message["text"]), blocks=blocks, edits=message["edits"] + 1)
        return Outgoing(200, {"ok": True, "channel": key[0], "ts": key[1], "text": message["text"],
                              "message": {"text": message["text"], "blocks": message["blocks"]}})

    # -- Twilio REST ------------------------------------------------------------------------------------
    def _twilio(self, path: str, request: Incoming) -> Outgoing:
        parts = path.strip("/").split("/")
        if request.method != "POST" or len(parts) != 4 or parts[:2] != ["2010-04-01", "Accounts"] \
                or parts[3] not in ("Calls.json", "Messages.json"):
            return Outgoing(404, {"code": 20404, "message": f"The requested resource {path} was not found",
                                  "status": 404})
        account = parts[2]
        user = _basic_user(request.headers.get("authorization", ""))
        if user != account and not (user or "").startswith("SK"):  # account SID or an API key SID
            return Outgoing(401, {"code": 20003, "message": "Authenticate", "status": 401})
        form = request.parsed_body() or {}
        if not isinstance(form, dict) or not form.get("To"):
            return Outgoing(400, {"code": 21201, "message": "No 'To' number is specified", "status": 400})
        if not form.get("From"):
            return Outgoing(400, {"code": 21213, "message": "No 'From' number is specified", "status": 400})
        if parts[3] == "Messages.json":
            return self._twilio_sms(account, form)
        if not form.get("Twiml") and not form.get("Url"):
            return Outgoing(400, {"code": 21205, "message": "Either Url or Twiml is required", "status": 400})
        self._call_seq += 1
        sid = "CA" + hashlib.sha1(f"{account}:{self._call_seq}".encode()).hexdigest()[:32]
        now = clock.now()
        call = {"sid": sid, "account_sid": account, "to": form["To"], "from": form["From"],
                "twiml": form.get("Twiml"), "url": form.get("Url"), "status_callback": form.get("StatusCallback"),
                "at": now, "seq": self._seq, **_read_twiml(form.get("Twiml"))}
        self.calls.append(call)
        return Outgoing(201, {
            "sid": sid, "account_sid": account, "to": call["to"], "to_formatted": call["to"], "from": call["from"],
            "from_formatted": call["from"], "status": "queued", "direction": "outbound-api",
            "api_version": "2010-04-01", "date_created": format_datetime(now), "date_updated": format_datetime(now),
            "uri": f"/2010-04-01/Accounts/{account}/Calls/{sid}.json", "price": None, "duration": None,
        })

    def _twilio_sms(self, account: str, form: dict[str, Any]) -> Outgoing:
        if not form.get("Body"):
            return Outgoing(400, {"code": 21602, "message": "Message body is required", "status": 400})
        sid = "SM" + hashlib.sha1(f"{account}:sms:{len(self.sms)}".encode()).hexdigest()[:32]
        now = clock.now()
        self.sms.append({"sid": sid, "to": form["To"], "from": form["From"], "body": form["Body"], "at": now,
                         "seq": self._seq})
        return Outgoing(201, {"sid": sid, "account_sid": account, "to": form["To"], "from": form["From"],
                              "body": form["Body"], "status": "queued", "direction": "outbound-api",
                              "api_version": "2010-04-01", "date_created": format_datetime(now),
                              "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json"})

    # -- Microsoft Teams incoming webhook -----------------------------------------------------------------
    @property
    def teams_webhook_url(self) -> str:
        return self.base_url + TEAMS_PREFIX + "/webhook"

    def _teams(self, request: Incoming) -> Outgoing:
        body = request.parsed_body()
        if not isinstance(body, dict):
            return Outgoing(400, {"error": "expected a JSON message"})
        card = (body.get("attachments") or [{}])[0]
        if body.get("type") != "message" or card.get("contentType") != "application/vnd.microsoft.card.adaptive":
            return Outgoing(400, {"error": "expected a message with one Adaptive Card attachment"})
        if card.get("content", {}).get("type") != "AdaptiveCard":
            return Outgoing(400, {"error": "the attachment content is not an AdaptiveCard"})
        self.teams.append({"at": clock.now(), "card": card["content"], "seq": self._seq})
        return Outgoing(202, {})

    # -- PagerDuty REST v2 -------------------------------------------------------------------------------
    def _pagerduty(self, path: str, request: Incoming) -> Outgoing:
        if not request.headers.get("authorization", "").startswith("Token token="):
            return Outgoing(401, {"error": {"message": "Unauthorized", "code": 2006}})
        parts = path.strip("/").split("/")
        body = request.parsed_body()
        if not request.headers.get("from"):
            return _pd_invalid("The 'From' header must be the email of a valid user")
        if request.method == "PUT" and len(parts) == 2 and parts[0] == "incidents":
            incident = (body or {}).get("incident") if isinstance(body, dict) else None
            if not isinstance(incident, dict) or incident.get("type") != "incident_reference":
                return _pd_invalid("incident must be an object of type incident_reference")
            if incident.get("status") not in (None, "acknowledged", "resolved"):
                return _pd_invalid(f"status {incident.get('status')!r} is not acknowledged or resolved")
            record = self.pagerduty_incidents.setdefault(parts[1], {"id": parts[1], "type": "incident",
                                                                      "status": "triggered"})
            if incident.get("status"):
                record["status"] = incident["status"]
            record["updated_by"] = request.headers["from"]
            return Outgoing(200, {"incident": dict(record)})
        if request.method == "POST" and len(parts) == 3 and parts[0] == "incidents" and parts[2] == "notes":
            note = (body or {}).get("note") if isinstance(body, dict) else None
            if not isinstance(note, dict) or not note.get("content"):
                return _pd_invalid("note.content is required")
            created = {"id": f"PN{len(self.pagerduty_notes) + 1:05d}", "incident_id": parts[1],
                       "content": note["content"], "created_at": format_time(clock.now()),
                       "user": {"type": "user_reference", "summary": request.headers["from"]}}
            self.pagerduty_notes.append(created)
            return Outgoing(201, {"note": {k: v for k, v in created.items() if k != "incident_id"}})
        return Outgoing(404, {"error": {"message": "Not Found", "code": 2100}})

    # -- the demo's view ------------------------------------------------------------------------------
    def printable_transcript(self) -> str:
        """What Slack, the phone and PagerDuty received, in arrival order.

        The copilot re-posts its card as evidence changes; after the first, a card shows only the
        lines that changed, so the story stays readable.
        """
        with self._lock:
            entries: list[tuple[int, str, dict[str, Any]]] = [
                *((m["seq"], "slack", m) for m in self.slack_messages.values()),
                *((c["seq"], "call", c) for c in self.calls),
                *((i, "pagerduty", r) for i, r in enumerate(self.requests)
                  if r["path"].startswith(PAGERDUTY_PREFIX + "/") and r["status"] < 300),
            ]
            return render_transcript(sorted(entries, key=lambda e: e[0]))

def _basic_user(header: str) -> str | None:
    if not header.startswith("Basic "):
        return None
    try:
        return base64.b64decode(header[6:]).decode().split(":", 1)[0]
    except (ValueError, UnicodeDecodeError):
        return None


def _pd_invalid(message: str) -> Outgoing:
    return Outgoing(400, {"error": {"message": "Invalid Input Provided", "code": 2001, "errors": [message]}})


def _read_twiml(twiml: str | None) -> dict[str, Any]:
    """What a TwiML document says, what it says inside the <Gather>, and where the keypress goes."""
    if not twiml:
        return {"spoken": [], "prompt": [], "gather_action": None, "num_digits": None}
    root = ET.fromstring(twiml)
    gather = root.find("Gather")
    return {"spoken": [(say.text or "").strip() for say in root.iter("Say")],
            "prompt": [(say.text or "").strip() for say in gather.iter("Say")] if gather is not None else [],
            "gather_action": gather.get("action") if gather is not None else None,
            "num_digits": gather.get("numDigits") if gather is not None else None}
