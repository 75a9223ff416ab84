"""The voice page: a short spoken summary, then a keypress that acknowledges or escalates.

Twilio fetches nothing from us to start the call: the TwiML travels inline with the create-call
request. The <Gather> posts the keypress to our callback; if nobody presses a key, the <Redirect>
posts to the same callback without digits, which `parse_keypress` treats as an escalation.
"""

from __future__ import annotations

from twilio.twiml.voice_response import Gather, VoiceResponse

from sre_copilot.domain.incident import Incident
from sre_copilot.domain.reasoning import Hypothesis
from sre_copilot.messages.text import truncate

GATHER_TIMEOUT_S = 10
SPOKEN_LIMIT = 600  # characters; a page that takes longer than ~40 s to hear gets hung up on


def _spoken_priority(incident: Incident) -> str:
    return f"priority {incident.priority.value.removeprefix('P')}"


def page_message(incident: Incident, top_hypothesis: Hypothesis | None) -> str:
    """What the on-call hears, in plain words for text-to-speech."""
    where = f" on service {incident.service}" if incident.service else ""
    parts = [f"This is S R E Copilot with a {_spoken_priority(incident)} incident{where}: {incident.title}."]
    if top_hypothesis is not None:
        h = top_hypothesis
        change = f", linked to change {h.change_id}" if h.change_id else ""
        parts.append(f"Most likely cause: {h.fault} in {h.entity}{change}, "
                     f"confidence {round(h.confidence * 100)} percent.")
    else:
        parts.append("No likely cause has been identified yet.")
    parts.append("Details are in Slack.")
    return truncate(" ".join(parts), SPOKEN_LIMIT)


KEY_PROMPT = "Press 1 to acknowledge, 2 to escalate, 3 to hear the likely cause and the recommended action."


def page_twiml(incident: Incident, top_hypothesis: Hypothesis | None, gather_action_url: str) -> str:
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=gather_action_url, method="POST", timeout=GATHER_TIMEOUT_S)
    gather.say(f"{page_message(incident, top_hypothesis)} {KEY_PROMPT}", loop=2)
    response.append(gather)
    response.say("No key was pressed. Escalating to the next responder.")
    response.redirect(gather_action_url, method="POST")
    return str(response.to_xml())


def details_message(top_hypothesis: Hypothesis | None, action: str | None, target: str | None,
                    risk: str | None) -> str:
    """Key 3: the top hypothesis in full and the recommended action, for text-to-speech."""
    parts = []
    if top_hypothesis is not None:
        parts.append(f"The most likely cause is {top_hypothesis.fault} in {top_hypothesis.entity}, "
                     f"confidence {round(top_hypothesis.confidence * 100)} percent. {top_hypothesis.summary}")
    else:
        parts.append("No likely cause has been identified yet.")
    if action:
        parts.append(f"Recommended action: {action} {target or ''}, risk {risk or 'unknown'}. "
                     "Approve or reject it on the Slack card.")
    else:
        parts.append("There is no recommended action yet.")
    return truncate(" ".join(parts), SPOKEN_LIMIT)


def details_twiml(message: str, gather_action_url: str) -> str:
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=gather_action_url, method="POST", timeout=GATHER_TIMEOUT_S)
    gather.say(f"{message} Press 1 to acknowledge, 2 to escalate.")
    response.append(gather)
    response.say("No key was pressed. Escalating to the next responder.")
    response.redirect(gather_action_url, method="POST")
    return str(response.to_xml())


def sms_text(incident: Incident, top_hypothesis: Hypothesis | None, link: str) -> str:
    """The SMS sent when a page call fails: the summary and where to look (one or two segments)."""
    cause = (f" Likely: {top_hypothesis.fault} in {top_hypothesis.entity} "
             f"({round(top_hypothesis.confidence * 100)}%)." if top_hypothesis else "")
    return truncate(f"[{incident.priority.value}] {incident.title} on {incident.service or 'unknown service'}."
                    f"{cause} We could not reach you by phone. {link}", 320)
