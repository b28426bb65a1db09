"""Environment configuration, parsed once into a typed model.

The model reads `os.environ` as it is, each setting from one variable named exactly: that
needs nothing of pydantic-settings' sources (files, secrets, nesting, a CLI), whose import
would cost every cold start about 25 ms.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Annotated

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from core.browser_origins import parse_allowed_origins
from core.delivery.retry import DEFAULT_RETRY_WINDOW_MINUTES, MAX_RETRY_WINDOW_MINUTES

# A synchronous Lambda takes at most 6 MB of request payload and API Gateway 10 MB; base64
# attachments grow by a third on the way in and again in MIME, so 5 MiB of built message
# is what reliably fits. Raise it for direct invocations that carry less JSON overhead.
DEFAULT_MAX_MESSAGE_BYTES = 5 * 1024 * 1024
# SES takes 50 recipients a message; so does a service here unless the operator raises it.
DEFAULT_MAX_RECIPIENTS = 50
MAX_RECIPIENTS_LIMIT = 400
# Placeholder values a request may bring, and their bytes (see core.composition.placeholder_limits).
DEFAULT_MAX_PLACEHOLDER_VALUES = 1_000
DEFAULT_MAX_PLACEHOLDER_BYTES = 1024 * 1024
# How long one message's Jinja templates may take to render (core.composition.jinja.limits).
DEFAULT_TEMPLATE_RENDER_SECONDS = 1.0


# What a deployed function cannot work without: every function gets these from the template's
# Globals. Empty counts as missing (an env.json with a blank line for it, say).
Required = Annotated[str, StringConstraints(min_length=1)]


class ConfigurationError(RuntimeError):
    """The environment lacks settings the functions need, or has ones they cannot read."""

    def __init__(self, missing: list[str], invalid: dict[str, str]) -> None:
        self.missing = missing
        self.invalid = invalid
        problems = []
        if missing:
            problems.append(f"missing environment variable(s): {', '.join(missing)}")
        problems.extend(f"{name}: {why}" for name, why in invalid.items())
        super().__init__("Configuration error: " + "; ".join(problems) + ".")


class Settings(BaseModel):
    """Everything the functions read from their environment."""

    # Every other variable of the environment is ignored.
    model_config = ConfigDict(extra="ignore", frozen=True)

    services_table: Required = Field(validation_alias="SERVICES_TABLE")
    roles_table: Required = Field(validation_alias="ROLES_TABLE")
    api_keys_table: Required = Field(validation_alias="API_KEYS_TABLE")
    rate_limits_table: Required = Field(validation_alias="RATE_LIMITS_TABLE")
    messages_table: Required = Field(validation_alias="MESSAGES_TABLE")
    idempotency_table: Required = Field(validation_alias="IDEMPOTENCY_TABLE")
    templates_table: Required = Field(validation_alias="TEMPLATES_TABLE")
    suppressions_table: Required = Field(validation_alias="SUPPRESSIONS_TABLE")
    stats_table: Required = Field(validation_alias="STATS_TABLE")
    webhooks_table: Required = Field(validation_alias="WEBHOOKS_TABLE")
    webhook_deliveries_table: Required = Field(validation_alias="WEBHOOK_DELIVERIES_TABLE")
    send_queue_url: Required = Field(validation_alias="SEND_QUEUE_URL")
    webhook_queue_url: Required = Field(validation_alias="WEBHOOK_QUEUE_URL")
    staging_bucket: Required = Field(validation_alias="STAGING_BUCKET")

    # Queued delivery: how long a transient failure is retried (a service's own
    # `retry_window_minutes` first), how far apart, and an optional cap on attempts
    # (0 or empty: none, the window alone decides).
    retry_window_minutes: int = Field(
        default=DEFAULT_RETRY_WINDOW_MINUTES,
        ge=1,
        le=MAX_RETRY_WINDOW_MINUTES,
        validation_alias="RETRY_WINDOW_MINUTES",
    )
    max_attempts: Annotated[
        int | None, BeforeValidator(lambda value: None if value in ("", "0", 0) else value)
    ] = Field(default=None, ge=1, validation_alias="MAX_ATTEMPTS")
    retry_base_seconds: float = Field(default=30, gt=0, validation_alias="RETRY_BASE_SECONDS")
    # How long past its due time a queued job may take to reach a worker before the repair
    # takes it for lost and queues it again (core.delivery.repair): well past a request's
    # longest life (API Gateway's 29 s), and a normal backlog.
    outbox_grace_seconds: int = Field(
        default=300, ge=1, le=86_400, validation_alias="OUTBOX_GRACE_SECONDS"
    )
    # A batch of at most this many items is sent at once, one after another on the pooled
    # connection (it must fit in API Gateway's 29 s); a larger one is queued for the worker.
    batch_send_now_max: int = Field(default=10, ge=0, le=100, validation_alias="BATCH_SEND_NOW_MAX")
    # How long an Idempotency-Key is remembered.
    idempotency_seconds: int = Field(default=86_400, ge=1, validation_alias="IDEMPOTENCY_SECONDS")
    secret_prefix: str = Field(default="email-api", validation_alias="SECRET_PREFIX")
    admin_key_secret_id: str = Field(default="", validation_alias="ADMIN_KEY_SECRET_ID")
    secret_cache_seconds: int = Field(default=300, validation_alias="SECRET_CACHE_SECONDS")
    # How long a warm authorizer trusts its last answer for a key (and so how long a revoked
    # key may still work).
    auth_cache_seconds: float = Field(default=30, ge=0, validation_alias="AUTH_CACHE_SECONDS")
    # The role direct invocations act with; empty = the unrestricted bootstrap role.
    invoke_role: str = Field(default="", validation_alias="INVOKE_ROLE")

    smtp_timeout_seconds: float = Field(default=10.0, gt=0, validation_alias="SMTP_TIMEOUT_SECONDS")
    smtp_ehlo_name: str = Field(default="", validation_alias="SMTP_EHLO_NAME")
    # An authenticated connection is kept per service and reused (core.transport.pool): closed
    # once idle this long (SES closes one idle for about 10 s), or after this many messages.
    smtp_reuse_connections: bool = Field(default=True, validation_alias="SMTP_REUSE_CONNECTIONS")
    smtp_idle_seconds: float = Field(default=8.0, ge=0, validation_alias="SMTP_IDLE_SECONDS")
    smtp_max_messages_per_connection: int = Field(
        default=100, ge=1, validation_alias="SMTP_MAX_MESSAGES_PER_CONNECTION"
    )
    smtp_ca_file: str = Field(default="", validation_alias="SMTP_CA_FILE")
    # Where services may point (core.network.destination, the guard against SSRF): loopback
    # only when allowed, private ranges unless forbidden, SMTP ports only ("*" = any port).
    smtp_allow_loopback: bool = Field(default=False, validation_alias="SMTP_ALLOW_LOOPBACK")
    smtp_allow_private: bool = Field(default=True, validation_alias="SMTP_ALLOW_PRIVATE")
    smtp_allowed_ports: str = Field(
        default="25,465,587,2525", validation_alias="SMTP_ALLOWED_PORTS"
    )
    max_message_bytes: int = Field(
        default=DEFAULT_MAX_MESSAGE_BYTES, gt=0, validation_alias="MAX_MESSAGE_BYTES"
    )
    # Placeholder values a request may bring (`template_data` and other top-level values):
    # how many, and their names and values' UTF-8 bytes together
    # (core.composition.placeholder_limits).
    max_placeholder_values: int = Field(
        default=DEFAULT_MAX_PLACEHOLDER_VALUES, ge=1, validation_alias="MAX_PLACEHOLDER_VALUES"
    )
    max_placeholder_bytes: int = Field(
        default=DEFAULT_MAX_PLACEHOLDER_BYTES, ge=1, validation_alias="MAX_PLACEHOLDER_BYTES"
    )
    # One message's Jinja templates, all fields together, stop (400) past this.
    template_render_seconds: float = Field(
        default=DEFAULT_TEMPLATE_RENDER_SECONDS,
        gt=0,
        le=60,
        validation_alias="TEMPLATE_RENDER_SECONDS",
    )
    # Outbound HTTP on a user's word (attachment URLs, OAuth2 token endpoints, webhooks), judged
    # by the same guard as SMTP hosts but stricter: a service's host is set by an admin, a URL
    # by every sending key, and what an attachment URL answers is mailed to recipients of the
    # sender's choosing. So an internal web service a private address reaches would have its
    # answers read back; private ranges are refused unless allowed, as loopback is. https only
    # unless plain http is allowed. The ATTACHMENT_FETCH_ALLOW_* names of earlier versions
    # still work.
    outbound_allow_http: bool = Field(
        default=False,
        validation_alias=AliasChoices("OUTBOUND_ALLOW_HTTP", "ATTACHMENT_FETCH_ALLOW_HTTP"),
    )
    outbound_allow_loopback: bool = Field(
        default=False,
        validation_alias=AliasChoices("OUTBOUND_ALLOW_LOOPBACK", "ATTACHMENT_FETCH_ALLOW_LOOPBACK"),
    )
    outbound_allow_private: bool = Field(
        default=False,
        validation_alias=AliasChoices("OUTBOUND_ALLOW_PRIVATE", "ATTACHMENT_FETCH_ALLOW_PRIVATE"),
    )
    attachment_fetch_timeout_seconds: float = Field(
        default=10.0, gt=0, validation_alias="ATTACHMENT_FETCH_TIMEOUT_SECONDS"
    )
    # One file's cap; unset (or empty): the message size limit, which also caps them all.
    attachment_fetch_max_bytes: Annotated[
        int | None, BeforeValidator(lambda value: None if value == "" else value)
    ] = Field(default=None, gt=0, validation_alias="ATTACHMENT_FETCH_MAX_BYTES")
    # A CA bundle trusted on top of the system store (a private CA; the tests' CA).
    attachment_fetch_ca_file: str = Field(default="", validation_alias="ATTACHMENT_FETCH_CA_FILE")
    # Webhooks (core.webhooks): one call's time limit (a slow endpoint holds a sender no longer),
    # and how long a container trusts its copy of the subscriptions, so that a send while
    # nobody subscribes costs no read most of the time.
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=10, validation_alias="WEBHOOK_TIMEOUT_SECONDS"
    )
    webhook_cache_seconds: float = Field(
        default=30.0, ge=0, le=300, validation_alias="WEBHOOK_CACHE_SECONDS"
    )
    # Recipients (to + cc + bcc) one message may have: the operator's ceiling over every
    # service's own `max_recipients`. A message's status record lists each recipient with the
    # server's reply, and must fit DynamoDB's 400 KB item, hence the upper bound.
    max_recipients: int = Field(
        default=DEFAULT_MAX_RECIPIENTS,
        ge=1,
        le=MAX_RECIPIENTS_LIMIT,
        validation_alias="MAX_RECIPIENTS",
    )

    # Web origins whose pages may call the API (CORS), comma-separated (core.browser_origins);
    # none by default: a browser then refuses every cross-origin call.
    cors_allowed_origins: Annotated[
        tuple[str, ...],
        BeforeValidator(
            lambda value: parse_allowed_origins(value) if isinstance(value, str) else value
        ),
    ] = Field(default=(), validation_alias="CORS_ALLOWED_ORIGINS")

    # DreamFactory's MAIL_* settings: an optional service defined by environment alone.
    mail_service_name: str = Field(default="", validation_alias="MAIL_SERVICE_NAME")
    mail_host: str = Field(default="", validation_alias="MAIL_HOST")
    mail_port: int = Field(default=587, validation_alias="MAIL_PORT")
    # Empty: STARTTLS whenever the server offers it (DreamFactory's default).
    mail_encryption: str = Field(default="", validation_alias="MAIL_ENCRYPTION")
    mail_verify_tls: bool = Field(default=True, validation_alias="MAIL_VERIFY_TLS")
    mail_username: str = Field(default="", validation_alias="MAIL_USERNAME")
    mail_password_secret_id: str = Field(default="", validation_alias="MAIL_PASSWORD_SECRET_ID")
    mail_from_address: str = Field(default="", validation_alias="MAIL_FROM_ADDRESS")
    mail_from_name: str = Field(default="", validation_alias="MAIL_FROM_NAME")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use; `ConfigurationError` names what is wrong."""
    try:
        return Settings.model_validate(dict(os.environ))
    except ValidationError as error:
        missing: list[str] = []
        invalid: dict[str, str] = {}
        for problem in error.errors(include_url=False):
            # Fields are read by their alias, so the location is the variable's name.
            name = ".".join(str(part) for part in problem["loc"])
            if problem["type"] in ("missing", "string_too_short"):
                missing.append(name)
            else:
                invalid[name] = problem["msg"]
        # The message names every variable; pydantic's dump of the whole model would bury it.
        raise ConfigurationError(missing, invalid) from None


def check_settings() -> None:
    """Raise `ConfigurationError` now (a handler's cold start) rather than on first use."""
    get_settings()
