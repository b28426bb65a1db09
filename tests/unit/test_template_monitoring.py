"""template.yaml's watch over the service: the alarms, their optional SNS topic and the
dashboard, against the metrics the code publishes (`core.observability`)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from core.observability.emf import DEFAULT_NAMESPACE
from core.observability.names import Metric
from core.transport.smtp.errors import SmtpAuthFailed
from local_stack.template_tables import load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
GLOBAL_VARIABLES = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
SERVICE = GLOBAL_VARIABLES["POWERTOOLS_SERVICE_NAME"]


def _alarms() -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in RESOURCES.items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


ALARMS = _alarms()


def _alarm_on(namespace: str, metric: str, **dimensions: str) -> dict[str, Any]:
    (alarm,) = [
        alarm
        for alarm in ALARMS.values()
        if alarm.get("Namespace") == namespace
        and alarm.get("MetricName") == metric
        and {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])} == dimensions
    ]
    return alarm


def test_the_metrics_namespace_is_a_parameter_the_functions_read() -> None:
    assert GLOBAL_VARIABLES["POWERTOOLS_METRICS_NAMESPACE"] == "MetricsNamespace"
    assert TEMPLATE["Parameters"]["MetricsNamespace"]["Default"] == DEFAULT_NAMESPACE


def test_tracing_is_on_unless_the_operator_turns_it_off() -> None:
    assert TEMPLATE["Parameters"]["XRayTracing"]["Default"] == "Active"
    assert TEMPLATE["Globals"]["Function"]["Tracing"] == ["TracingOn", "Active", "PassThrough"]
    assert GLOBAL_VARIABLES["POWERTOOLS_TRACE_DISABLED"] == ["TracingOn", "false", "true"]


@pytest.mark.parametrize(
    "queue", ["SendDeadLetterQueue", "WebhookDeadLetterQueue", "SesEventsDeadLetterQueue"]
)
def test_a_dead_letter_queue_with_anything_in_it_alarms(queue: str) -> None:
    alarm = _alarm_on(
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", QueueName=f"{queue}.QueueName"
    )

    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_the_failure_rate_alarm_divides_failed_by_sent_and_failed() -> None:
    alarm = ALARMS["FailureRateAlarm"]
    stats = {
        query["Id"]: query["MetricStat"] for query in alarm["Metrics"] if "MetricStat" in query
    }
    (expression,) = [query for query in alarm["Metrics"] if query.get("ReturnData")]

    assert {stat["Metric"]["MetricName"] for stat in stats.values()} == {
        Metric.FAILED,
        Metric.SENT,
    }
    for stat in stats.values():
        assert stat["Metric"]["Namespace"] == "MetricsNamespace"
        assert stat["Metric"]["Dimensions"] == [{"Name": "service", "Value": SERVICE}]
    rate = "100 * FILL(failed, 0) / (FILL(failed, 0) + FILL(sent, 0))"
    assert rate in expression["Expression"]
    assert alarm["Threshold"] == "FailureRateAlarmPercent"


def test_an_smtp_authentication_failure_alarms() -> None:
    alarm = _alarm_on(
        "MetricsNamespace",
        Metric.FAILED,
        service=SERVICE,
        reason=SmtpAuthFailed.default_reason,
    )

    assert alarm["Threshold"] == 0


def test_worker_errors_and_api_5xx_answers_alarm() -> None:
    _alarm_on("AWS/Lambda", "Errors", FunctionName="WorkerFunction")
    api = _alarm_on("AWS/ApiGateway", "5XXError", ApiName="AWS::StackName")

    assert api["Statistic"] == "Average"  # a share of the answers, not a count


def test_every_alarm_notifies_the_topic_when_one_is_given_and_nobody_otherwise() -> None:
    assert TEMPLATE["Parameters"]["AlarmTopicArn"]["Default"] == ""
    # !Not [!Equals [!Ref AlarmTopicArn, ""]], as the loader keeps it.
    assert TEMPLATE["Conditions"]["HasAlarmTopic"] == [["AlarmTopicArn", ""]]
    for logical_id, alarm in ALARMS.items():
        for actions in ("AlarmActions", "OKActions"):
            assert alarm[actions] == ["HasAlarmTopic", ["AlarmTopicArn"], "AWS::NoValue"], (
                logical_id
            )


def test_the_dashboard_is_json_showing_every_outcome_and_every_alarm() -> None:
    body, variables = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]
    substituted = re.sub(r"\$\{([^}]+)\}", lambda m: m.group(1), body)

    widgets = json.loads(substituted)["widgets"]

    shown = json.dumps(widgets)
    assert all(f'"{metric.value}"' in shown for metric in Metric if metric is not Metric.FAILED)
    (alarm_widget,) = [widget for widget in widgets if widget["type"] == "alarm"]
    assert {name.removesuffix(".Arn") for name in alarm_widget["properties"]["alarms"]} == set(
        ALARMS
    )
    assert set(variables) == {"SendDlq", "WebhookDlq", "SesEventsDlq"}
