"""Notifier settings (``alerts.notifiers``) and routes (``alerts.routes``) of channelscope.yaml.

Secrets are named, never written: a notifier says which environment variable (or key of the
``alerts.secrets_file``) holds its password, robot URL or signing key. A literal password, token or
robot URL in the YAML is rejected at load with file, line and key, so it never reaches the repository.

```yaml
notifiers:
  ops_mail: {kind: email, host: smtp.x.cn, port: 587, username: bot, password_env: SMTP_PASSWORD,
             sender: alerts@x.cn, to: [ops@x.cn]}
  ops_slack: {kind: slack, url_env: SLACK_WEBHOOK_URL}
  ops_wecom: {kind: wecom, url_env: WECOM_ROBOT_URL}
  tmall_team: {kind: dingtalk, url_env: DINGTALK_TMALL_URL, secret_env: DINGTALK_TMALL_SECRET}
  jd_team: {kind: feishu, url_env: FEISHU_JD_URL, secret_env: FEISHU_JD_SECRET}
  erp: {kind: webhook, url: https://erp.x.cn/hooks/alerts, secret_env: ERP_HOOK_SECRET}
routes:
  - {notify: [ops_mail], severity: [warning, critical]}
  - {notify: [tmall_team], channels: [tmall]}
```
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WrapValidator, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

Severity = Literal["info", "warning", "critical"]
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LITERAL_HINT = (
    "'{field}' holds a literal secret; secrets are never written in channelscope.yaml: put the value in an "
    "environment variable (or the alerts.secrets_file) and name it with '{field}_env'"
)


def _env_name(value: str | None) -> str | None:
    if value is not None and not _ENV.match(value):
        raise ValueError(f"'{value}' is not an environment variable name (letters, digits, _)")
    return value


class _Notifier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Literal["zh-CN", "en"] | None = Field(None, description="overrides alerts.language for this notifier")
    timeout: float = Field(10.0, gt=0, le=300, description="seconds one delivery attempt may take")

    @model_validator(mode="before")
    @classmethod
    def _no_literal_secrets(cls, data: Any) -> Any:
        # checked before the field validation so the message is about the secret, not 'unknown key'
        if isinstance(data, dict):
            for name in cls._secret_fields():
                if data.get(name) not in (None, ""):
                    raise ValueError(_LITERAL_HINT.format(field=name))
        return data

    @classmethod
    def _secret_fields(cls) -> tuple[str, ...]:
        return ("password", "token", "secret", "key", "access_token", "webhook")

    @field_validator("*", mode="after")
    @classmethod
    def _env_fields(cls, value: Any, info: Any) -> Any:
        if info.field_name.endswith("_env") and isinstance(value, str):
            _env_name(value)
        return value


class EmailNotifier(_Notifier):
    """SMTP with STARTTLS (port 587) or implicit TLS (port 465); a text and an HTML part."""

    kind: Literal["email"]
    host: str
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = Field(True, description="upgrade the connection with STARTTLS (ignored when ssl: true)")
    ssl: bool = Field(False, description="implicit TLS from the first byte (port 465)")
    ca_file: str | None = Field(None, description="PEM file of a private CA (relative to the project)")
    username: str | None = None
    password_env: str | None = Field(None, description="environment variable holding the SMTP password")
    sender: str
    to: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _login(self) -> EmailNotifier:
        if self.username and not self.password_env:
            raise ValueError("username is set but password_env is missing")
        return self


class _Robot(_Notifier):
    """A chat robot whose URL carries its token, so the URL itself is a secret."""

    url_env: str = Field(description="environment variable holding the robot's webhook URL (it contains the token)")

    @classmethod
    def _secret_fields(cls) -> tuple[str, ...]:
        return (*super()._secret_fields(), "url")


class SlackNotifier(_Robot):
    kind: Literal["slack"]


class WeComNotifier(_Robot):
    """企业微信 group robot (``.../cgi-bin/webhook/send?key=...``)."""

    kind: Literal["wecom"]


class DingTalkNotifier(_Robot):
    """钉钉 custom robot; ``secret_env`` enables the signature (加签)."""

    kind: Literal["dingtalk"]
    secret_env: str | None = Field(None, description="environment variable holding the signing secret (SEC...)")


class FeishuNotifier(_Robot):
    """飞书/Lark custom bot; ``secret_env`` enables the signature (签名校验)."""

    kind: Literal["feishu"]
    secret_env: str | None = Field(None, description="environment variable holding the signing secret")


class WebhookNotifier(_Notifier):
    """Any HTTP endpoint: JSON body, ``X-Channelscope-Signature: sha256=<hex HMAC(secret, body)>``."""

    kind: Literal["webhook"]
    url: str | None = Field(None, description="endpoint URL (not secret); or url_env")
    url_env: str | None = None
    secret_env: str = Field(description="environment variable holding the HMAC-SHA256 signing key")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _one_url(self) -> WebhookNotifier:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env")
        return self


_KINDS: dict[str, type[_Notifier]] = {
    "email": EmailNotifier,
    "slack": SlackNotifier,
    "wecom": WeComNotifier,
    "dingtalk": DingTalkNotifier,
    "feishu": FeishuNotifier,
    "webhook": WebhookNotifier,
}
KINDS = tuple(_KINDS)


def _located(value: Any, handler: Any) -> Any:
    """Errors located at the offending key (``notifiers.x.password``), not at the union's tag
    (``notifiers.x.email``), so the reported line is the key's own; a literal secret is named by its key."""
    kind = value.get("kind") if isinstance(value, dict) else None
    if kind in _KINDS:
        for name in _KINDS[str(kind)]._secret_fields():
            if value.get(name) not in (None, ""):
                msg = _LITERAL_HINT.format(field=name)
                err = PydanticCustomError("literal_secret", msg.replace("{", "(").replace("}", ")"))
                raise ValidationError.from_exception_data(
                    "NotifierConfig", [InitErrorDetails(type=err, loc=(name,), input="***")]
                )
    try:
        return handler(value)
    except ValidationError as exc:
        errors: list[InitErrorDetails] = []
        for e in exc.errors():
            loc = tuple(e["loc"])
            if loc and kind is not None and loc[0] == kind:
                loc = loc[1:]
            if e["type"] == "union_tag_invalid":
                err = PydanticCustomError(
                    "unknown_notifier_kind",
                    "unknown notifier kind '{tag}'; valid: {valid}",
                    {"tag": str(kind), "valid": ", ".join(KINDS)},
                )
                loc = (*loc, "kind")
            elif e["type"] == "union_tag_not_found":
                err = PydanticCustomError(
                    "missing_notifier_kind", "a notifier needs 'kind' (one of: {valid})", {"valid": ", ".join(KINDS)}
                )
            elif e["type"] == "extra_forbidden" and kind in _KINDS and len(loc) == 1:
                allowed = ", ".join(sorted(_KINDS[str(kind)].model_fields))
                err = PydanticCustomError(
                    "unknown_notifier_key",
                    "unknown key for a {kind} notifier; allowed: {allowed}",
                    {"kind": str(kind), "allowed": allowed},
                )
            else:
                err = PydanticCustomError(e["type"], e["msg"].replace("{", "(").replace("}", ")"))
            errors.append(InitErrorDetails(type=err, loc=loc, input=e.get("input")))
        raise ValidationError.from_exception_data("NotifierConfig", errors) from None


NotifierConfig = Annotated[
    EmailNotifier | SlackNotifier | WeComNotifier | DingTalkNotifier | FeishuNotifier | WebhookNotifier,
    Field(discriminator="kind"),
    WrapValidator(_located),
]


class Route(BaseModel):
    """Who hears about what: every route whose filters all match an alert notifies its notifiers.

    An empty filter matches everything; ``channels`` matches the alert's ``channel_id`` scope, so a
    channel's manager gets that channel's alerts (and not the whole-business ones)."""

    model_config = ConfigDict(extra="forbid")

    notify: list[str] = Field(min_length=1, description="notifier names")
    severity: list[Severity] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    distributors: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)

    def matches(self, *, severity: str, rule: str, scope: dict[str, str]) -> bool:
        """True when every non-empty filter admits the alert."""
        if self.severity and severity not in self.severity:
            return False
        if self.rules and rule not in self.rules:
            return False
        if self.channels and scope.get("channel_id") not in self.channels:
            return False
        return not (self.distributors and scope.get("distributor_id") not in self.distributors)
