"""Run-time controls: the kill switch, disabled services, change freezes, dry-run and approvers.

They live in SSM Parameter Store under one path (`Settings.controls_path`, the stack creates
`/sre-copilot/<environment>/controls/*`) and are read through Powertools Parameters with a cache of
at most 60 s, so `sre-copilot kill-switch on` stops every automated action within a minute, with
no deploy and no cold start. One parameter per control, so an operator editing one never
overwrites another:

| parameter | value |
|---|---|
| `emergency_stop` | `true` / `false` |
| `disabled_services` | comma-separated glob patterns (`checkout,payments-*`) |
| `manual_override` | services an operator has taken manual control of (globs) |
| `change_freezes` | JSON list of `{"start", "end", "services", "reason"}` (UTC, RFC 3339) |
| `dry_run` | `true` / `false`; absent or empty: the deployment's `dry_run` |
| `approvers` | JSON `Approvers` (who may approve what; see `sre_copilot.actions.approvers`) |

A value that cannot be read is a `ConfigurationError`: callers fail closed (Act refuses to run).
Other work (risk budget, SLO gates) reads its own controls through `current_controls` too.
"""

from __future__ import annotations

import json
from datetime import datetime
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from sre_copilot.domain.types import Risk, UtcDateTime
from sre_copilot.errors import ConfigurationError
from sre_copilot.settings import Settings

CONTROL_NAMES = ("emergency_stop", "disabled_services", "manual_override", "change_freezes", "dry_run", "approvers")


class ChangeFreeze(BaseModel):
    """No automated change on matching services between `start` and `end` (a release freeze, an
    event weekend). Remediation asks a human instead."""

    start: UtcDateTime
    end: UtcDateTime
    services: list[str] = Field(default_factory=lambda: ["*"], description="glob patterns")
    reason: str = ""

    def applies(self, service: str, at: datetime) -> bool:
        return self.start <= at <= self.end and any(fnmatchcase(service, p) for p in self.services)


class ApproverRule(BaseModel):
    """Who may approve plans on matching services up to a risk level."""

    services: list[str] = Field(default_factory=lambda: ["*"], description="glob patterns")
    max_risk: Risk = Risk.HIGH
    slack_users: list[str] = Field(default_factory=list, description="Slack user ids (U...)")
    slack_groups: list[str] = Field(default_factory=list, description="Slack user-group ids (S...)")
    phones: list[str] = Field(default_factory=list, description="E.164 numbers allowed to approve by phone")
    api_users: list[str] = Field(default_factory=list, description=(
        "read-API token subjects (JWT 'sub') allowed to approve through the API, besides their approver role"))


class Approvers(BaseModel):
    """Empty (the default) means nobody may approve: a deployment says who may, or nothing runs
    that needs an approval."""

    slack_team_id: str | None = Field(default=None, description="the Slack workspace (T...) clicks must come from")
    rules: list[ApproverRule] = Field(default_factory=list)
    two_person_risks: list[Risk] = Field(default_factory=lambda: [Risk.CRITICAL],
                                         description="risks that need two distinct approvers")


class RuntimeControls(BaseModel):
    emergency_stop: bool = False
    disabled_services: list[str] = Field(default_factory=list)
    manual_override: list[str] = Field(default_factory=list)
    change_freezes: list[ChangeFreeze] = Field(default_factory=list)
    dry_run: bool | None = None
    approvers: Approvers = Field(default_factory=Approvers)

    @field_validator("disabled_services", "manual_override", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [p.strip() for p in text.split(",") if p.strip()]
        return value

    @field_validator("change_freezes", "approvers", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else None
        return value

    @field_validator("emergency_stop", "dry_run", mode="before")
    @classmethod
    def _bool(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().lower()
            if not text:
                return None
            if text not in ("true", "false", "on", "off"):
                raise ValueError(f"expected true or false, got {value!r}")
            return text in ("true", "on")
        return value

    def disabled_pattern(self, service: str) -> str | None:
        return next((p for p in self.disabled_services if fnmatchcase(service, p)), None)

    def manual_override_for(self, service: str) -> bool:
        return any(fnmatchcase(service, p) for p in self.manual_override)

    def freeze_for(self, service: str, at: datetime) -> ChangeFreeze | None:
        return next((f for f in self.change_freezes if f.applies(service, at)), None)

    def effective_dry_run(self, deployed: bool) -> bool:
        return deployed if self.dry_run is None else self.dry_run

    def to_parameters(self) -> dict[str, str]:
        """The SSM parameter values (names relative to the controls path) for these controls."""
        return {
            "emergency_stop": str(self.emergency_stop).lower(),
            "disabled_services": ",".join(self.disabled_services) or " ",
            "manual_override": ",".join(self.manual_override) or " ",
            "change_freezes": json.dumps([f.model_dump(mode="json") for f in self.change_freezes]),
            "dry_run": " " if self.dry_run is None else str(self.dry_run).lower(),
            "approvers": self.approvers.model_dump_json(),
        }


def parse_controls(values: dict[str, str], where: str = "the run-time controls") -> RuntimeControls:
    """Controls from parameter values keyed by their name (unknown names are ignored; SSM refuses an
    empty string, so a single space stands for "unset")."""
    known = {k: v for k, v in values.items() if k in CONTROL_NAMES and v is not None}
    cleaned = {k: ("" if isinstance(v, str) and not v.strip() else v) for k, v in known.items()}
    # An empty list parameter means an empty list, an empty JSON parameter means the default.
    cleaned = {k: v for k, v in cleaned.items() if not (v == "" and k in ("change_freezes", "approvers"))}
    try:
        return RuntimeControls.model_validate(cleaned)
    except (ValidationError, ValueError) as exc:
        raise ConfigurationError(f"{where} cannot be read ({exc}); fix the parameter or run "
                                 "`sre-copilot kill-switch status`") from exc


@lru_cache(maxsize=8)
def _provider(region: str) -> Any:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    from sre_copilot.adapters import aws_clients

    return SSMProvider(boto3_client=aws_clients.client("ssm", region))


def current_controls(settings: Settings, *, force_fetch: bool = False) -> RuntimeControls:
    """The controls as of at most `controls_max_age_s` (<= 60 s) ago. Raises ConfigurationError when
    Parameter Store cannot be read: callers must then refuse to act (fail closed)."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    path = settings.controls_path.rstrip("/")
    try:
        values = _provider(settings.region).get_multiple(path, max_age=settings.controls_max_age_s,
                                                         recursive=False, force_fetch=force_fetch)
    except GetParameterError as exc:
        raise ConfigurationError(f"cannot read the run-time controls under {path} ({exc}); check the "
                                 "function may ssm:GetParametersByPath on it") from exc
    return parse_controls({str(k).rsplit("/", 1)[-1]: v for k, v in dict(values).items()}, where=path)


def write_controls(settings: Settings, controls: RuntimeControls, client: Any = None) -> None:
    """Store every control (the CLI and the local runtime). Overwrites: SSM has no conditional put."""
    from sre_copilot.adapters import aws_clients

    ssm = client or aws_clients.client("ssm", settings.region)
    path = settings.controls_path.rstrip("/")
    for name, value in controls.to_parameters().items():
        ssm.put_parameter(Name=f"{path}/{name}", Value=value, Type="String", Overwrite=True)
    clear_controls_cache()


def clear_controls_cache() -> None:
    """Forget cached values (new providers start empty): a write here is seen at once."""
    _provider.cache_clear()
