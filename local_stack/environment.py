"""The handlers' environment: the settings `template.yaml` gives them, and boto3 aimed at moto.

This must run before the handlers are imported: Powertools reads POWERTOOLS_SERVICE_NAME at
import time, and boto3 reads AWS_ENDPOINT_URL and the credentials when a client is created.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from local_stack.private_files import write_private
from local_stack.template_tables import load_template, table_schemas

NAME_PREFIX = "email-api"
SECRET_PREFIX = NAME_PREFIX
ADMIN_KEY_SECRET_ID = f"{NAME_PREFIX}/admin-key"
REGION = "us-east-1"
# The credentials every local program signs its requests to moto with; moto's port serves no
# other access key id (local_stack.moto_server). Not a secret: what it proves is that the
# caller could add an Authorization header, which a web page cannot without a CORS preflight.
LOCAL_ACCESS_KEY_ID = "local"
LOCAL_SECRET_ACCESS_KEY = "local"  # noqa: S105  # moto checks no signature
# The account moto puts everything in (queue URLs and ARNs name it).
MOTO_ACCOUNT = "123456789012"
SEND_QUEUE = "SendQueue"
WEBHOOK_QUEUE = "WebhookQueue"
STAGING_BUCKET = f"{NAME_PREFIX}-staging"
# Locally a transient failure comes back within seconds, not minutes.
LOCAL_RETRY_BASE_SECONDS = "1"

# Never let real credentials, a profile or an SSO session near the local stack.
_REMOVED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN")


def table_names() -> dict[str, str]:
    """Logical id -> local table name, (ServicesTable -> email-api-services)."""
    return {
        logical_id: f"{NAME_PREFIX}-{_words(logical_id.removesuffix('Table'), '-').lower()}"
        for logical_id in table_schemas()
    }


def queue_names() -> dict[str, str]:
    """Logical id -> local queue name, (SendQueue -> email-api-send-queue)."""
    return {
        logical_id: f"{NAME_PREFIX}-{_words(logical_id, '-').lower()}"
        for logical_id, resource in load_template()["Resources"].items()
        if resource.get("Type") == "AWS::SQS::Queue"
    }


def queue_url(endpoint_url: str, logical_id: str) -> str:
    """The URL moto gives the queue of `logical_id`, as `!Ref` gives it in AWS."""
    return f"{endpoint_url}/{MOTO_ACCOUNT}/{queue_names()[logical_id]}"


def queue_arn(logical_id: str) -> str:
    return f"arn:aws:sqs:{REGION}:{MOTO_ACCOUNT}:{queue_names()[logical_id]}"


def table_setting(logical_id: str) -> str:
    """The variable a function reads the table's name from: ServicesTable -> SERVICES_TABLE."""
    return _words(logical_id, "_").upper()


def point_handlers_at(endpoint_url: str) -> None:
    """Set what the deployed functions get from the template, with moto as the AWS endpoint."""
    for name in _REMOVED:
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "SECRET_PREFIX": SECRET_PREFIX,
            "ADMIN_KEY_SECRET_ID": ADMIN_KEY_SECRET_ID,
            "POWERTOOLS_SERVICE_NAME": NAME_PREFIX,
            # Locally a revoked or rotated key stops working at once (deployed: AuthCacheSeconds).
            "AUTH_CACHE_SECONDS": os.environ.get("AUTH_CACHE_SECONDS", "0"),
            # Likewise a new webhook hears of the very next send (deployed: within 30 s), or a
            # developer who subscribes and then sends at once would wait for calls that never come.
            "WEBHOOK_CACHE_SECONDS": os.environ.get("WEBHOOK_CACHE_SECONDS", "0"),
            "SEND_QUEUE_URL": queue_url(endpoint_url, SEND_QUEUE),
            "WEBHOOK_QUEUE_URL": queue_url(endpoint_url, WEBHOOK_QUEUE),
            "STAGING_BUCKET": STAGING_BUCKET,
            "MAX_ATTEMPTS": os.environ.get("MAX_ATTEMPTS") or _parameter_default("MaxAttempts"),
            "RETRY_WINDOW_MINUTES": os.environ.get("RETRY_WINDOW_MINUTES")
            or _parameter_default("RetryWindowMinutes"),
            "OUTBOX_GRACE_SECONDS": os.environ.get("OUTBOX_GRACE_SECONDS")
            or _parameter_default("OutboxGraceSeconds"),
            "RETRY_BASE_SECONDS": os.environ.get("RETRY_BASE_SECONDS") or LOCAL_RETRY_BASE_SECONDS,
            # The capture server is on 127.0.0.1:1025, and developers point services at test
            # servers on loopback; deployed, both are refused (SmtpAllowLoopback, SmtpAllowedPorts).
            "SMTP_ALLOW_LOOPBACK": os.environ.get("SMTP_ALLOW_LOOPBACK") or "true",
            "SMTP_ALLOWED_PORTS": os.environ.get("SMTP_ALLOWED_PORTS") or "*",
            # Likewise webhooks (and attachment URLs) may call a developer's server on
            # loopback, over plain http; deployed, both are refused (OUTBOUND_ALLOW_*).
            "OUTBOUND_ALLOW_LOOPBACK": _either("OUTBOUND_ALLOW_LOOPBACK", "true"),
            "OUTBOUND_ALLOW_HTTP": _either("OUTBOUND_ALLOW_HTTP", "true"),
        }
    )
    for logical_id, table_name in table_names().items():
        os.environ[table_setting(logical_id)] = table_name


def trust_local_ca(ca_file: Path) -> None:
    """Make the functions' TLS clients of SMTP servers trust the stack's CA (local_stack.local_ca)
    on top of the system store, as SMTP_CA_FILE does deployed: verification stays on. A CA
    bundle the developer named in SMTP_CA_FILE is still trusted: both go into one file."""
    given = os.environ.get("SMTP_CA_FILE", "").strip()
    if not given or Path(given).resolve() == ca_file.resolve():
        os.environ["SMTP_CA_FILE"] = str(ca_file)
        return
    bundle = ca_file.with_name("trusted.pem")
    write_private(bundle, ca_file.read_bytes() + b"\n" + Path(given).read_bytes(), durable=False)
    os.environ["SMTP_CA_FILE"] = str(bundle)


def _either(name: str, default: str) -> str:
    """The developer's setting, under its name or its former ATTACHMENT_FETCH_ one."""
    former = name.replace("OUTBOUND_", "ATTACHMENT_FETCH_")
    return os.environ.get(name) or os.environ.get(former) or default


def _parameter_default(name: str) -> str:
    return str(load_template()["Parameters"][name]["Default"])


def _words(camel: str, separator: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", separator, camel)
