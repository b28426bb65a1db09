"""template.yaml's SES grants, as CloudFormation would deploy them for given parameters: the
functions that send may send as the identities (and with the configuration sets) the operator
names, and as nothing else; with the parameters left empty, no function may send through SES.

The template's intrinsic functions are evaluated here (the few the policies use), so the test
reads the ARNs a deployed role would hold, not the YAML that builds them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from local_stack.template_tables import TEMPLATE

ACCOUNT = "123456789012"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": "eu-west-1",
    "AWS::StackName": "email-api",
}
SENDERS = ("handlers.api.lambda_handler", "handlers.invoke.lambda_handler")
WORKER = "handlers.worker.lambda_handler"
SEND_ACTIONS = {"ses:SendEmail", "ses:SendRawEmail"}
_NO_VALUE = object()


class _KeepingTags(yaml.SafeLoader):
    """Reads `!Sub x` as `{"Fn::Sub": x}` (and `!Ref x` as `{"Ref": x}`), so it can be evaluated."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_KeepingTags.add_multi_constructor("!", _tagged)
TEMPLATE_DATA: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=_KeepingTags)  # noqa: S506  # a safe loader


class Deployment:
    """The template's values once CloudFormation has the given parameters."""

    def __init__(self, **parameters: str) -> None:
        self.parameters: dict[str, Any] = {}
        for name, declared in TEMPLATE_DATA["Parameters"].items():
            raw = parameters.get(name, str(declared.get("Default", "")))
            if declared["Type"] == "CommaDelimitedList":
                self.parameters[name] = [item.strip() for item in raw.split(",")]
            else:
                self.parameters[name] = raw
        self.conditions = {
            name: bool(self.value(body)) for name, body in TEMPLATE_DATA["Conditions"].items()
        }

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            if key == "Ref" or key.startswith("Fn::"):
                return self._function(key, argument)
        return {
            k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not _NO_VALUE
        }

    def _function(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            return self._ref(argument)
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self.value(when_true if self.conditions[condition] else when_false)
        if name == "Fn::Sub":
            template, variables = (argument, {}) if isinstance(argument, str) else argument
            known = {key: self.value(value) for key, value in variables.items()}
            return re.sub(
                r"\$\{([^}]+)\}", lambda m: str(known.get(m[1]) or self._ref(m[1])), template
            )
        if name == "Fn::Join":
            separator, items = argument
            # CloudFormation takes no function in a join's separator: only a literal.
            assert isinstance(separator, str), f"a join's separator must be literal: {separator}"
            return separator.join(str(item) for item in _flat(self.value(items)))
        if name == "Fn::Split":
            separator, text = argument
            return str(self.value(text)).split(separator)
        if name == "Fn::Select":
            index, items = argument
            return self.value(items)[int(index)]
        if name == "Fn::Equals":
            left, right = argument
            return self.value(left) == self.value(right)
        if name == "Fn::Not":
            return not self.value(argument[0])
        if name == "Fn::And":
            return all(self.value(condition) for condition in argument)
        if name == "Fn::GetAtt":
            target = argument if isinstance(argument, str) else ".".join(argument)
            return f"<{target}>"
        raise AssertionError(f"no evaluation for {name}")

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.parameters:
            return self.parameters[name]
        return f"<{name}>"  # a resource, or `${Resource.Attribute}` in a Sub

    def grants(self, handler: str, actions: set[str]) -> set[tuple[str, str]]:
        """(action, resource) pairs of `actions` that the function's policies allow."""
        (function,) = (
            resource["Properties"]
            for resource in TEMPLATE_DATA["Resources"].values()
            if resource["Type"] == "AWS::Serverless::Function"
            and resource["Properties"]["Handler"] == handler
        )
        return {
            (action, resource)
            for statement in _statements(self.value(function.get("Policies", [])))
            if statement["Effect"] == "Allow"
            for action in _as_list(statement["Action"])
            if action in actions
            for resource in _as_list(statement["Resource"])
        }

    def handlers(self) -> list[str]:
        return [
            resource["Properties"]["Handler"]
            for resource in TEMPLATE_DATA["Resources"].values()
            if resource["Type"] == "AWS::Serverless::Function"
        ]


def _flat(items: Any) -> Iterator[Any]:
    for item in _as_list(items):
        if isinstance(item, list):
            yield from _flat(item)
        else:
            yield item


def _statements(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "Effect" in node and "Action" in node:
            yield node
        for value in node.values():
            yield from _statements(value)
    elif isinstance(node, list):
        for item in node:
            yield from _statements(item)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def identity(name: str) -> str:
    return f"arn:*:ses:*:*:identity/{name}"


def configuration_set(name: str) -> str:
    return f"arn:*:ses:*:*:configuration-set/{name}"


def test_left_empty_no_function_may_send_through_ses() -> None:
    deployment = Deployment()

    for handler in deployment.handlers():
        assert deployment.grants(handler, SEND_ACTIONS | {"ses:GetEmailIdentity"}) == set(), handler


@pytest.mark.parametrize("handler", [*SENDERS, WORKER])
def test_the_functions_that_send_may_send_as_the_named_identities_only(handler: str) -> None:
    deployment = Deployment(SesSendingIdentities="example.com, noreply@example.org")

    assert deployment.grants(handler, SEND_ACTIONS) == {
        (action, identity(name))
        for action in SEND_ACTIONS
        for name in ("example.com", "noreply@example.org")
    }


@pytest.mark.parametrize("handler", [*SENDERS, WORKER])
def test_a_named_configuration_set_is_granted_beside_the_identities(handler: str) -> None:
    deployment = Deployment(SesSendingIdentities="example.com", SesConfigurationSets="events")

    assert deployment.grants(handler, SEND_ACTIONS) == {
        (action, arn)
        for action in SEND_ACTIONS
        for arn in (identity("example.com"), configuration_set("events"))
    }


def test_functions_that_do_not_send_get_no_ses_grant() -> None:
    deployment = Deployment(SesSendingIdentities="example.com", SesConfigurationSets="events")
    others = set(deployment.handlers()) - {*SENDERS, WORKER}

    assert others, "no other function found: is the walker blind?"
    for handler in others:
        assert deployment.grants(handler, SEND_ACTIONS | {"ses:GetAccount"}) == set(), handler


def test_the_connection_test_may_read_the_account_and_the_named_identities() -> None:
    deployment = Deployment(SesSendingIdentities="example.com")
    api, worker = SENDERS[0], WORKER

    # GetAccount names no resource: IAM takes it only on "*". It reads, and sends nothing.
    assert deployment.grants(api, {"ses:GetAccount"}) == {("ses:GetAccount", "*")}
    assert deployment.grants(api, {"ses:GetEmailIdentity"}) == {
        ("ses:GetEmailIdentity", identity("example.com"))
    }
    assert deployment.grants(worker, {"ses:GetAccount", "ses:GetEmailIdentity"}) == set()


def test_no_ses_grant_is_on_every_resource_but_the_account_read() -> None:
    deployment = Deployment(SesSendingIdentities="example.com", SesConfigurationSets="events")

    for handler in deployment.handlers():
        for action, resource in deployment.grants(handler, SEND_ACTIONS | {"ses:GetEmailIdentity"}):
            assert not resource.endswith("*"), (handler, action, resource)
