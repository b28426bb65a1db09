"""The handlers' environment: the settings `template.yaml` gives them, and boto3 aimed at moto.

This must run before the handlers are imported: Powertools reads POWERTOOLS_SERVICE_NAME at
import time, and boto3 reads AWS_ENDPOINT_URL and the credentials when a client is created.
"""

from __future__ import annotations

import os
import re

from local_stack.template_tables import table_schemas

NAME_PREFIX = "email-api"
SECRET_PREFIX = NAME_PREFIX
ADMIN_KEY_SECRET_ID = f"{NAME_PREFIX}/admin-key"
REGION = "us-east-1"

# Never let real credentials, a profile or an SSO session near the local stack.
_REMOVED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN")


def table_names() -> dict[str, str]:
    """Logical id -> local table name, (ServicesTable -> email-api-services)."""
    return {
        logical_id: f"{NAME_PREFIX}-{_words(logical_id.removesuffix('Table'), '-').lower()}"
        for logical_id in table_schemas()
    }


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
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "SECRET_PREFIX": SECRET_PREFIX,
            "ADMIN_KEY_SECRET_ID": ADMIN_KEY_SECRET_ID,
            "POWERTOOLS_SERVICE_NAME": NAME_PREFIX,
            # Locally a revoked or rotated key stops working at once (deployed: AuthCacheSeconds).
            "AUTH_CACHE_SECONDS": os.environ.get("AUTH_CACHE_SECONDS", "0"),
        }
    )
    for logical_id, table_name in table_names().items():
        os.environ[table_setting(logical_id)] = table_name


def _words(camel: str, separator: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", separator, camel)
