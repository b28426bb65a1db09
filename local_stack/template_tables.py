"""DynamoDB tables as `template.yaml` declares them, so moto's tables and AWS's cannot drift."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"

# The parts of a table's properties that shape its key schema and indexes.
_SCHEMA_KEYS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
)


class _TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML; intrinsic functions (!Ref, !Sub, ...) are kept as plain values."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_TemplateLoader.add_multi_constructor("!", _intrinsic)


def load_template(template: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data; `!Ref X` and friends become their bare argument (`X`)."""
    # A copy of the parsed document: parsing takes a tenth of a second.
    return copy.deepcopy(_parsed(template, template.stat().st_mtime_ns))


@lru_cache(maxsize=4)
def _parsed(template: Path, _modified: int) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(template.read_text(), Loader=_TemplateLoader)  # noqa: S506  # safe loader subclass
    return document


def table_schemas(template: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    """Logical id -> `create_table` arguments (without a name) for each table in the template."""
    # Copies of the tables' parts alone: every test's moto tables come from here, and a copy
    # of the whole template took longer than creating them.
    resources = _parsed(template, template.stat().st_mtime_ns)["Resources"]
    schemas = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        properties = resource["Properties"]
        schema = {key: copy.deepcopy(properties[key]) for key in _SCHEMA_KEYS if key in properties}
        schema["BillingMode"] = "PAY_PER_REQUEST"
        schemas[logical_id] = schema
    return schemas


def create_tables(client: DynamoDBClient, names: dict[str, str], template: Path = TEMPLATE) -> None:
    """Create each table of the template under the name given for its logical id."""
    for logical_id, schema in table_schemas(template).items():
        client.create_table(TableName=names[logical_id], **schema)
