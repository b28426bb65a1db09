"""What `sam deploy` would create, made in moto: the template's tables, the admin key secret."""

from __future__ import annotations

import boto3

from local_stack.environment import ADMIN_KEY_SECRET_ID, table_names
from local_stack.template_tables import create_tables


def provision(admin_key: str) -> None:
    """Create the tables and store the admin key; boto3 must already point at moto."""
    create_tables(boto3.client("dynamodb"), table_names())
    boto3.client("secretsmanager").create_secret(
        Name=ADMIN_KEY_SECRET_ID,
        SecretString=admin_key,
        Description="Admin API key of the local email API",
    )
