"""template.yaml against the code it deploys: handlers, settings, API routes and IAM scope."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices

from core.delivery.job import FRESH_COPY_AFTER_RECEIVES
from core.delivery.retry import MAX_RETRY_WINDOW_MINUTES
from core.events.not_yet_known import MAX_RECEIVES
from core.send_request import MAX_SCHEDULE_AHEAD
from core.settings import Settings
from core.webhooks.delivery import RetrySchedule
from handlers.api import app
from handlers.documentation import PUBLIC_ROUTES, is_public_path
from local_stack.template_tables import TEMPLATE, load_template, table_schemas
from tests.support.api import call_api

REPO = TEMPLATE.parent
API_HANDLER = "handlers.api.lambda_handler"
AUTHORIZER_HANDLER = "handlers.authorizer.lambda_handler"
INVOKE_HANDLER = "handlers.invoke.lambda_handler"
WORKER_HANDLER = "handlers.worker.lambda_handler"
SES_EVENTS_HANDLER = "handlers.ses_events.lambda_handler"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# Services whose data a wildcard resource would open to every function in the account.
SCOPED_SERVICES = ("dynamodb:", "secretsmanager:", "sqs:", "s3:")


def _functions() -> dict[str, dict[str, Any]]:
    """Logical id -> properties of each function, with `Globals.Function` folded in as SAM does."""
    template = load_template()
    defaults = template.get("Globals", {}).get("Function", {})
    functions = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = {**defaults, **resource["Properties"]}
        properties["Environment"] = {
            "Variables": {
                **defaults.get("Environment", {}).get("Variables", {}),
                **resource["Properties"].get("Environment", {}).get("Variables", {}),
            }
        }
        functions[logical_id] = properties
    return functions


FUNCTIONS = _functions()


def _statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM statement anywhere in the template, including inside `!If` branches."""
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


def _function(handler: str) -> dict[str, Any]:
    (function,) = (f for f in FUNCTIONS.values() if f["Handler"] == handler)
    return function


def _logical_id(handler: str) -> str:
    (logical_id,) = (i for i, f in FUNCTIONS.items() if f["Handler"] == handler)
    return logical_id


def _grants(function: dict[str, Any]) -> set[tuple[str, str]]:
    """(action, resource) pairs the function's own statements allow; `X.Arn` names resource X,
    `${X.Arn}/path` its objects under path."""
    return {
        (action, str(resource).removesuffix(".Arn").replace(".Arn}", "}"))
        for statement in _statements(function.get("Policies", []))
        for action in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    }


def _api() -> dict[str, Any]:
    (api,) = (
        resource["Properties"]
        for resource in load_template()["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Api"
    )
    properties: dict[str, Any] = api
    return properties


@pytest.mark.parametrize(("logical_id", "function"), FUNCTIONS.items(), ids=list(FUNCTIONS))
def test_handler_is_a_callable_in_the_code_sam_builds(
    logical_id: str, function: dict[str, Any]
) -> None:
    code_uri = (REPO / function["CodeUri"]).resolve()
    module_name, _, attribute = function["Handler"].rpartition(".")

    module = importlib.import_module(module_name)

    assert module.__file__ is not None
    assert Path(module.__file__).resolve().is_relative_to(code_uri), logical_id
    assert callable(getattr(module, attribute, None)), function["Handler"]


def _names(alias: object) -> set[str]:
    """The variable names a setting reads: one, or each of its AliasChoices."""
    if isinstance(alias, AliasChoices):
        return {str(choice) for choice in alias.choices}
    return {str(alias)}


def test_environment_variables_are_ones_the_settings_read() -> None:
    aliases = {
        name for field in Settings.model_fields.values() for name in _names(field.validation_alias)
    }
    required = {
        field.validation_alias for field in Settings.model_fields.values() if field.is_required()
    }

    for logical_id, function in FUNCTIONS.items():
        names = set(function["Environment"]["Variables"])
        unknown = {name for name in names - aliases if not name.startswith("POWERTOOLS_")}
        assert not unknown, f"{logical_id} sets variables no setting reads: {sorted(unknown)}"
        assert required <= names, f"{logical_id} misses required settings"


@pytest.mark.parametrize("handler", [API_HANDLER, AUTHORIZER_HANDLER])
def test_functions_checking_keys_know_the_admin_key_secret(handler: str) -> None:
    # Without it every request is a 401.
    variables = _function(handler)["Environment"]["Variables"]

    assert variables["ADMIN_KEY_SECRET_ID"] == "AdminApiKeySecret"
    assert variables["AUTH_CACHE_SECONDS"] == "AuthCacheSeconds"


def test_table_settings_name_the_templates_tables() -> None:
    named = {
        logical_id: {
            value
            for name, value in function["Environment"]["Variables"].items()
            if name.endswith("_TABLE")
        }
        for logical_id, function in FUNCTIONS.items()
    }

    for logical_id, tables in named.items():
        assert tables <= set(table_schemas()), logical_id
    assert set().union(*named.values()) == set(table_schemas())


def test_rate_limit_counters_expire() -> None:
    properties = load_template()["Resources"]["RateLimitsTable"]["Properties"]

    # core.access.rate_limit writes each counter's end of life there, in epoch seconds.
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_only_direct_invocations_act_with_the_invoke_role() -> None:
    for logical_id, function in FUNCTIONS.items():
        variables = function["Environment"]["Variables"]
        if function["Handler"] == INVOKE_HANDLER:
            assert variables["INVOKE_ROLE"] == "InvokeRole"
        else:
            assert "INVOKE_ROLE" not in variables, logical_id


def test_the_authorizer_guards_every_route_but_the_documentation_and_preflights() -> None:
    auth = _api()["Auth"]
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]

    assert authorizer["FunctionPayloadType"] == "REQUEST"
    assert authorizer["FunctionArn"] == f"{_logical_id(AUTHORIZER_HANDLER)}.Arn"
    open_routes = set()
    for event in _function(API_HANDLER)["Events"].values():
        route = (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        if route[0] == "OPTIONS":  # a CORS preflight carries no key (handlers.cors)
            assert event["Properties"]["Auth"] == {"Authorizer": "NONE"}, event
        elif is_public_path(route[1]):  # its own routes, and any other method (a 405)
            assert event["Properties"]["Auth"] == {"Authorizer": "NONE"}, event
            open_routes.add(route)
        else:
            assert "Auth" not in event["Properties"], event
    assert open_routes == PUBLIC_ROUTES | {("ANY", path) for _, path in PUBLIC_ROUTES}


def test_api_gateway_does_not_cache_the_authorizer() -> None:
    # The key may come in either header or in ?api_key=: with caching on, API Gateway would
    # require every identity source on every request, and refuse the requests lacking one.
    auth = _api()["Auth"]
    identity = auth["Authorizers"][auth["DefaultAuthorizer"]]["Identity"]

    assert identity == {"ReauthorizeEvery": 0}


@pytest.mark.parametrize("response_type", ["UNAUTHORIZED", "ACCESS_DENIED"])
def test_gateway_refusal_is_the_api_functions_own_401(response_type: str) -> None:
    # What the API function answers when it checks the key itself, as without the authorizer.
    own = call_api("POST", "/api/v2/email", {}, api_key=None, via_authorizer=False)
    response = _api()["GatewayResponses"][response_type]

    assert int(response["StatusCode"]) == own.status == 401
    assert json.loads(response["ResponseTemplates"]["application/json"]) == own.body


def test_api_routes_are_exactly_the_resolvers_routes() -> None:
    template_routes = {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for function in FUNCTIONS.values()
        if function["Handler"] == API_HANDLER
        for event in function.get("Events", {}).values()
        if event["Type"] == "Api"
    }
    documented_routes = {
        (method.upper(), path)
        for path, item in (app.get_openapi_schema().paths or {}).items()
        for method in HTTP_METHODS
        if getattr(item, method) is not None
    }

    # The documentation's own routes (/swagger and its assets) are not in the document.
    assert {route for route in template_routes if route[0] not in ("ANY", "OPTIONS")} == (
        documented_routes | PUBLIC_ROUTES
    )
    # Every path takes any other method too, for the function's 405 (not API Gateway's 404).
    assert {path for method, path in template_routes if method == "ANY"} == {
        path for _, path in template_routes
    }
    # And a CORS preflight, without the authorizer: every path but the documentation's, whose
    # ANY route has none already.
    assert {path for method, path in template_routes if method == "OPTIONS"} == {
        path for _, path in template_routes if not is_public_path(path)
    }


def test_authorizer_may_only_read_keys_and_roles_and_record_key_use() -> None:
    assert _grants(_function(AUTHORIZER_HANDLER)) == {
        ("dynamodb:GetItem", "ApiKeysTable"),
        ("dynamodb:GetItem", "RolesTable"),
        ("dynamodb:UpdateItem", "ApiKeysTable"),
        ("secretsmanager:GetSecretValue", "AdminApiKeySecret"),
    }


def test_direct_invocations_may_only_read_roles_and_count_sends() -> None:
    access_grants = {
        grant
        for grant in _grants(_function(INVOKE_HANDLER))
        if grant[1].endswith("Table") and grant[1] not in ("MessagesTable", "IdempotencyTable")
    }

    assert access_grants == {
        ("dynamodb:GetItem", "ServicesTable"),
        ("dynamodb:GetItem", "RolesTable"),
        ("dynamodb:GetItem", "TemplatesTable"),
        ("dynamodb:BatchGetItem", "SuppressionsTable"),
        ("dynamodb:UpdateItem", "RateLimitsTable"),
        # A provider's sliding window: read, and written back on condition of its version.
        ("dynamodb:GetItem", "RateLimitsTable"),
        ("dynamodb:PutItem", "RateLimitsTable"),
        ("dynamodb:UpdateItem", "StatsTable"),
        # The webhooks' fan-out of the send's events: who is subscribed (cached).
        ("dynamodb:Scan", "WebhooksTable"),
    }


def test_only_the_api_function_has_api_events() -> None:
    for function in FUNCTIONS.values():
        if function["Handler"] != API_HANDLER:
            events = (function.get("Events") or {}).values()
            assert not [e for e in events if e["Type"] == "Api"], function["Handler"]


def test_the_worker_consumes_the_send_queue_with_partial_batch_responses() -> None:
    worker = _function(WORKER_HANDLER)
    (event,) = worker["Events"].values()

    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == "SendQueue.Arn"
    # Without it a retry-later item would make SQS redeliver the whole batch, sent ones too.
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["ScalingConfig"] == {"MaximumConcurrency": "WorkerMaxConcurrency"}
    assert not [
        f for f in FUNCTIONS.values() if f is not worker and f.get("Events", {}).get("SendQueue")
    ]


def test_the_send_queue_outlives_the_worker_and_retries_before_its_dead_letter_queue() -> None:
    resources = load_template()["Resources"]
    queue = resources["SendQueue"]["Properties"]

    # Lambda's advice: at least six times the function's timeout, or batches are redelivered
    # while a worker still holds them.
    assert queue["VisibilityTimeout"] >= 6 * _function(WORKER_HANDLER)["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == "SendDeadLetterQueue.Arn"
    # Retries are timed by the courier; the dead-letter queue must not cut them short: a
    # retry after FRESH_COPY_AFTER_RECEIVES receives is a fresh message, well before it.
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 2 * FRESH_COPY_AFTER_RECEIVES
    assert queue["SqsManagedSseEnabled"] is True
    dead_letters = resources["SendDeadLetterQueue"]["Properties"]
    assert dead_letters["MessageRetentionPeriod"] == 14 * 86_400


def test_ses_events_reach_the_events_function_through_a_queue_sns_may_send_to() -> None:
    resources = load_template()["Resources"]
    subscription = resources["SesEventsSubscription"]["Properties"]
    (statement,) = resources["SesEventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (event,) = _function(SES_EVENTS_HANDLER)["Events"].values()

    assert (subscription["TopicArn"], subscription["Protocol"]) == ("SesEventsTopic", "sqs")
    assert subscription["Endpoint"] == "SesEventsQueue.Arn"
    # The function reads SNS's envelope around each event; raw delivery would drop it.
    assert subscription["RawMessageDelivery"] is False
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": "SesEventsTopic"}}
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == "SesEventsQueue.Arn"
    # An event to try again must not bring back the ones of its batch that applied.
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_ses_events_queue_outlives_the_function_and_keeps_what_kept_failing() -> None:
    resources = load_template()["Resources"]
    queue = resources["SesEventsQueue"]["Properties"]

    assert queue["VisibilityTimeout"] >= 6 * _function(SES_EVENTS_HANDLER)["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == "SesEventsDeadLetterQueue.Arn"
    # The handler drops an event no record knows on the last receive, not one later.
    assert queue["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVES
    assert queue["SqsManagedSseEnabled"] is True
    dead_letters = resources["SesEventsDeadLetterQueue"]["Properties"]
    assert dead_letters["MessageRetentionPeriod"] == 14 * 86_400


def test_the_staging_bucket_is_private_and_forgets_staged_requests() -> None:
    bucket = load_template()["Resources"]["StagingBucket"]["Properties"]

    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Prefix"] == "staged/"
    assert rule["Status"] == "Enabled"
    # A staged message outlives its longest wait: a schedule, then a whole retry window.
    longest = MAX_SCHEDULE_AHEAD + timedelta(minutes=MAX_RETRY_WINDOW_MINUTES)
    assert timedelta(days=rule["ExpirationInDays"]) > longest


def test_worker_may_only_settle_records_pace_and_read_what_a_send_needs() -> None:
    # Its SES grants, built from parameters, are read in tests/unit/test_template_ses_policy.py.
    grants = {
        grant
        for grant in _grants(_function(WORKER_HANDLER))
        if not grant[0].startswith(("secretsmanager:", "ses:"))
    }

    assert grants == {
        ("dynamodb:GetItem", "MessagesTable"),
        ("dynamodb:UpdateItem", "MessagesTable"),
        ("dynamodb:GetItem", "ServicesTable"),
        ("dynamodb:GetItem", "TemplatesTable"),
        ("dynamodb:BatchGetItem", "SuppressionsTable"),
        ("dynamodb:UpdateItem", "RateLimitsTable"),
        # A provider's sliding window: read, and written back on condition of its version.
        ("dynamodb:GetItem", "RateLimitsTable"),
        ("dynamodb:PutItem", "RateLimitsTable"),
        ("dynamodb:UpdateItem", "StatsTable"),
        ("sqs:SendMessage", "SendQueue"),
        # The webhooks' fan-out of the send's events: who is subscribed, their calls queued.
        ("dynamodb:Scan", "WebhooksTable"),
        ("sqs:SendMessage", "WebhookQueue"),
        ("sqs:ChangeMessageVisibility", "SendQueue"),
        ("s3:GetObject", "${StagingBucket}/staged/*"),
        ("s3:DeleteObject", "${StagingBucket}/staged/*"),
    }


@pytest.mark.parametrize("handler", [API_HANDLER, INVOKE_HANDLER])
def test_senders_may_record_queue_and_stage_messages(handler: str) -> None:
    delivery_grants = {
        grant
        for grant in _grants(_function(handler))
        if grant[1] in ("MessagesTable", "IdempotencyTable", "SendQueue")
        or grant[0].startswith("s3:")
    }

    assert delivery_grants == {
        ("dynamodb:PutItem", "MessagesTable"),
        ("dynamodb:GetItem", "MessagesTable"),
        ("dynamodb:UpdateItem", "MessagesTable"),
        ("dynamodb:GetItem", "IdempotencyTable"),
        ("dynamodb:PutItem", "IdempotencyTable"),
        ("dynamodb:UpdateItem", "IdempotencyTable"),
        ("dynamodb:DeleteItem", "IdempotencyTable"),
        ("sqs:SendMessage", "SendQueue"),
        ("s3:PutObject", "${StagingBucket}/staged/*"),
    }


def test_queue_settings_name_the_templates_queue_and_bucket() -> None:
    for logical_id, function in FUNCTIONS.items():
        variables = function["Environment"]["Variables"]
        assert variables["SEND_QUEUE_URL"] == "SendQueue", logical_id
        assert variables["STAGING_BUCKET"] == "StagingBucket", logical_id
        assert variables["MAX_ATTEMPTS"] == "MaxAttempts", logical_id
        assert variables["RETRY_BASE_SECONDS"] == "RetryBaseSeconds", logical_id


def test_function_policies_are_inline_statements() -> None:
    # Policy templates and managed policies grant what this file cannot see; keep grants here.
    for logical_id, function in FUNCTIONS.items():
        for policy in function.get("Policies", []):
            assert isinstance(policy, dict), f"{logical_id}: {policy}"
            assert set(policy) <= {"Version", "Statement"}, f"{logical_id}: {sorted(policy)}"


def test_no_data_service_statement_has_a_wildcard_resource() -> None:
    statements = list(_statements(load_template()["Resources"]))
    scoped = [
        statement
        for statement in statements
        # A Deny may be broad (the staging bucket refuses every request without TLS).
        if statement["Effect"] == "Allow"
        and any(str(action).startswith(SCOPED_SERVICES) for action in _as_list(statement["Action"]))
    ]

    assert scoped, "no DynamoDB or Secrets Manager grants found: is the walker blind?"
    for statement in scoped:
        assert "Resource" in statement, statement
        assert "*" not in _as_list(statement["Resource"]), statement
        assert not any(str(action).endswith(":*") for action in _as_list(statement["Action"]))


WEBHOOK_SENDER_HANDLER = "handlers.webhook_sender.lambda_handler"


def test_the_webhook_sender_consumes_its_queue_with_partial_batch_responses() -> None:
    sender = _function(WEBHOOK_SENDER_HANDLER)
    (event,) = sender["Events"].values()

    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == "WebhookQueue.Arn"
    # A call to retry later must not bring back the calls of its batch that were made.
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Endpoints that are down hold a bounded number of senders.
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] <= 10


def test_the_webhook_queue_outlives_the_sender_and_retries_before_its_dead_letter_queue() -> None:
    resources = load_template()["Resources"]
    queue = resources["WebhookQueue"]["Properties"]

    assert queue["VisibilityTimeout"] >= 6 * _function(WEBHOOK_SENDER_HANDLER)["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == "WebhookDeadLetterQueue.Arn"
    # Each attempt is a receive: the dead-letter queue must not cut the schedule short.
    assert queue["RedrivePolicy"]["maxReceiveCount"] > RetrySchedule().max_attempts
    # The schedule's last attempt comes before SQS forgets the message.
    assert queue["MessageRetentionPeriod"] > sum(
        wait or 0 for wait in map(RetrySchedule().wait_after, range(1, 13))
    )
    assert queue["SqsManagedSseEnabled"] is True


def test_the_webhook_sender_may_only_read_subscriptions_and_secrets_and_log() -> None:
    grants = _grants(_function(WEBHOOK_SENDER_HANDLER))

    assert grants == {
        ("dynamodb:GetItem", "WebhooksTable"),
        ("dynamodb:PutItem", "WebhookDeliveriesTable"),
        (
            "secretsmanager:GetSecretValue",
            "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
            "${AWS::StackName}/webhooks/*",
        ),
        ("sqs:ChangeMessageVisibility", "WebhookQueue"),
    }


def test_the_webhook_deliveries_expire() -> None:
    table = load_template()["Resources"]["WebhookDeliveriesTable"]["Properties"]

    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
