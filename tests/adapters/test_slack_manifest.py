"""slack/manifest.yaml: what a user pastes into api.slack.com to create the app.

Slack publishes its official manifest JSON schema only on GitHub (slackapi/manifest-schema, MIT; no
PyPI or npm package bundles it), and tests run offline, so SCHEMA below restates the reference's
rules for the parts this app uses. With SLACK_MANIFEST_SCHEMA pointing at a downloaded copy of
`schemas/manifest.schema.1.0.0.json`, the manifest is also validated against Slack's own schema
(it passed against commit c50cfa8 of that repository, with 0 errors).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "slack" / "manifest.yaml"
CALLBACKS = REPO / "functions" / "callbacks" / "handler.py"

_URL = {"type": "string", "format": "uri", "pattern": "^https://"}
_SCOPE = {"type": "string", "pattern": r"^[a-z_]+(:[a-z_.]+)*$"}
# The fields, types and limits of Slack's app manifest reference (api.slack.com/reference/manifests)
# for the parts this app uses; unknown keys are refused, as Slack refuses them.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["display_information"],
    "additionalProperties": False,
    "properties": {
        "_metadata": {"type": "object", "properties": {"major_version": {"type": "integer"},
                                                       "minor_version": {"type": "integer"}}},
        "display_information": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 35},
                           "description": {"type": "string", "maxLength": 140},
                           "long_description": {"type": "string", "minLength": 175, "maxLength": 4000},
                           "background_color": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"}}},
        "features": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "bot_user": {"type": "object", "required": ["display_name"], "additionalProperties": False,
                             "properties": {"display_name": {"type": "string", "maxLength": 80},
                                            "always_online": {"type": "boolean"}}},
                "slash_commands": {"type": "array", "maxItems": 50, "items": {
                    "type": "object", "required": ["command", "description"], "additionalProperties": False,
                    "properties": {"command": {"type": "string", "pattern": "^/[a-z0-9_-]{1,31}$"},
                                   "url": _URL, "description": {"type": "string", "maxLength": 2000},
                                   "usage_hint": {"type": "string", "maxLength": 1000},
                                   "should_escape": {"type": "boolean"}}}}}},
        "oauth_config": {
            "type": "object", "additionalProperties": False,
            "properties": {"scopes": {"type": "object", "additionalProperties": False, "properties": {
                "bot": {"type": "array", "maxItems": 255, "items": _SCOPE, "uniqueItems": True},
                "user": {"type": "array", "maxItems": 255, "items": _SCOPE, "uniqueItems": True}}}}},
        "settings": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "interactivity": {"type": "object", "required": ["is_enabled"], "additionalProperties": False,
                                  "properties": {"is_enabled": {"type": "boolean"}, "request_url": _URL,
                                                 "message_menu_options_url": _URL}},
                "org_deploy_enabled": {"type": "boolean"},
                "socket_mode_enabled": {"type": "boolean"},
                "token_rotation_enabled": {"type": "boolean"}}},
    },
}


def _manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_manifest_validates_against_the_manifest_schema() -> None:
    # Given the manifest in the repository / When it is checked against the schema / Then it passes
    jsonschema.validate(_manifest(), SCHEMA)


def test_manifest_validates_against_slacks_official_schema_when_given() -> None:
    import json
    import os

    import pytest

    path = os.environ.get("SLACK_MANIFEST_SCHEMA", "")
    if not path:
        pytest.skip("set SLACK_MANIFEST_SCHEMA to slackapi/manifest-schema's schemas/manifest.schema.1.0.0.json")
    schema = json.loads(Path(path).read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    assert [e.message for e in validator.iter_errors(_manifest())] == []


def test_manifest_urls_point_at_the_callback_routes_the_api_serves() -> None:
    manifest = _manifest()
    routes = set(re.findall(r'@app\.post\("([^"]+)"\)', CALLBACKS.read_text(encoding="utf-8")))
    [command] = manifest["features"]["slash_commands"]
    interactivity = manifest["settings"]["interactivity"]
    # Then the slash command and the buttons reach routes the callbacks function serves
    assert command["command"] == "/sre"
    assert command["url"].removeprefix("https://API_URL") in routes
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"].removeprefix("https://API_URL") in routes
    # And socket mode is off: Slack must call the signed HTTPS routes
    assert manifest["settings"]["socket_mode_enabled"] is False


def test_manifest_asks_for_the_scopes_the_copilot_uses_and_no_more() -> None:
    scopes = set(_manifest()["oauth_config"]["scopes"]["bot"])
    # chat.postMessage/chat.update (+ public channels it was not invited to), /sre, incident channels
    # (conversations.create/invite for public and private), user lookup for the on-call, and the
    # members of approver user groups (usergroups.users.list, services/slack_actions.py)
    assert scopes == {"chat:write", "chat:write.public", "commands", "channels:manage", "channels:read",
                      "groups:write", "users:read", "usergroups:read"}


def test_a_broken_manifest_is_refused() -> None:
    manifest = _manifest()
    manifest["features"]["slash_commands"][0]["command"] = "sre"  # no leading slash
    try:
        jsonschema.validate(manifest, SCHEMA)
    except jsonschema.ValidationError as exc:
        assert "does not match" in exc.message
    else:
        raise AssertionError("a command without '/' must not validate")
