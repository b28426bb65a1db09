"""What the local stack tells a developer once it is up: where things are, and a first call."""

from __future__ import annotations

import shlex
import textwrap
from collections.abc import Sequence

from local_stack.bootstrap import DEFAULT_FROM_EMAIL, SERVICE_NAME
from local_stack.config import HOST, LocalConfig
from local_stack.environment import ADMIN_KEY_SECRET_ID, LOCAL_ACCESS_KEY_ID, table_names
from local_stack.functions import (
    CONCURRENCY_SETTING,
    LocalApi,
    LocalFunction,
    default_concurrency,
)
from local_stack.local_ca import ca_file_in
from local_stack.mail_viewer import VIEWER_PATH
from local_stack.smtp.simulator import SIMULATOR_DOMAIN, Mailbox
from local_stack.worker_poller import WorkerPoller

# The seed page's "Send a Basic Email" body, laid out as there (its obfuscated address replaced).
BASIC_EXAMPLE = """{
    "to": [
      {"email": "john.doe@example.com", "name": "John Doe"}
    ],
    "subject": "Test Email",
    "body_text": "This is a test email sent via DreamFactory."
  }"""


def banner(
    config: LocalConfig,
    moto_endpoint: str,
    functions: Sequence[LocalFunction],
    api: LocalApi,
    pollers: Sequence[WorkerPoller] = (),
    state: str = "",
    source_env: str = ". .local/env",
) -> str:
    """The addresses, the admin key and a ready-to-paste curl, as printed at start; `state`
    says what was restored from the state directory (local_stack.state_store), `source_env`
    is the command that loads this run's settings into a shell (local_stack.shell_env)."""
    key_origin = config.admin_key_origin
    tables = ", ".join(table_names().values())
    names = ", ".join(function.name for function in functions)
    # The function other Lambdas invoke: neither the API's function nor its authorizer.
    behind_api = (api.function, api.authorizer)
    consumers = {poller.source.function for poller in pollers}
    direct = next(
        (f.name for f in functions if f.name not in (*behind_api, *consumers)), functions[0].name
    )
    queues = "".join(
        f"\n  Queue          {poller.queue_url}"
        f"\n                 polled for {poller.source.function} (batches of"
        f" {poller.source.batch_size}, {poller.concurrency} at once;"
        f" ?async=true and send_at land here)"
        for poller in pollers
    )
    simulator = ", ".join(f"{mailbox}@" for mailbox in Mailbox) + SIMULATOR_DOMAIN
    limits = ", ".join(f"{f.name} {f.concurrency}" for f in functions)
    ses_identities = ", ".join(config.ses_identities) or "nobody"
    concurrency = textwrap.fill(
        f"at most at once: {limits} ({CONCURRENCY_SETTING}={default_concurrency()} where the"
        " template sets no limit)",
        width=96,
        initial_indent=" " * 17,
        subsequent_indent=" " * 17,
    )
    return f"""
Local email API: no AWS account, no Docker.

  Send API       {config.api_url}/api/v2/{SERVICE_NAME}
  Admin API      {config.api_url}/api/v2/system/service
  Admin API key  {config.admin_key}
                 ({key_origin})
  Your shell     {source_env}
                 (sets URL, KEY, MAILER_URL, MAILER_API_KEY, SMTP_PORT; mailer and sam on PATH)
  Service        '{SERVICE_NAME}': SMTP to the capture server on {HOST}:{config.smtp_port}
                 (default sender {DEFAULT_FROM_EMAIL})
  SMTP TLS       STARTTLS on {HOST}:{config.smtp_port}, implicit TLS on {HOST}:{config.smtps_port};
                 AUTH takes any login, over TLS only; certificate from the local CA
                 {ca_file_in(config.state_dir)} (the functions trust it: SMTP_CA_FILE)
  Simulator      {simulator}
                 answer as their names say (docs/local-stack.md, "Trying failures locally")
  Mail lands in  {config.mail_dir}
                 (<time>.eml as received; <time>.json holds the envelope, Bcc included)
  Mail viewer    {config.api_url}{VIEWER_PATH}
                 (newest first, search, HTML sandboxed, envelope with Bcc, attachments, .eml)
  SES (moto)     services of type ses send as {ses_identities} (LOCAL_SES_IDENTITIES);
                 what they send lands in the mail folder too
  AWS (moto)     {moto_endpoint}   tables: {tables}; admin key secret: {ADMIN_KEY_SECRET_ID}{queues}
                 (for SDKs signing with key id '{LOCAL_ACCESS_KEY_ID}'; never browsers)
  Browser apps   pages of {config.cors_allowed_origins or "no origin"} may call the API
                 (CORS_ALLOWED_ORIGINS, comma-separated; the template's CorsAllowedOrigins)
  State          {state or config.state_dir}
  Functions      each invocation in a container process of its own, started on first use;
{concurrency}
  Lambda Invoke  {config.invoke_url} serves Lambda's Invoke API for {names}
                 (loopback Host only, no browsers, JSON payloads):
                 boto3.client("lambda", endpoint_url="{config.invoke_url}").invoke(
                     FunctionName="{direct}",
                     Payload='{{"service": "{SERVICE_NAME}", "message": {{...}}}}')

Send the seed's basic example:

{curl_command(config, BASIC_EXAMPLE)}
"""


def curl_command(config: LocalConfig, body: str) -> str:
    """A curl for `POST /api/v2/email`, laid out like the seed page's examples."""
    lines = [
        f'curl -X POST "{config.api_url}/api/v2/{SERVICE_NAME}"',
        f"  -H {shlex.quote(f'X-DreamFactory-API-Key: {config.admin_key}')}",
        '  -H "Content-Type: application/json"',
        f"  -d {shlex.quote(body)}",
    ]
    return " \\\n".join(lines)
