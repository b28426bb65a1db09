"""What docs/deploying.md promises about template.yaml: the deployer's least-privilege policy
covers every resource the stack creates, and the optional VPC and custom domain switch on only
when their parameters are given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local_stack.template_tables import TEMPLATE, load_template

POLICY = TEMPLATE.parent / "docs" / "deployer-policy.json"

# What CloudFormation calls to create, update and delete each resource type the template (and
# SAM's transform of it) makes, as their resource handlers document. A new type in the
# template fails the test below until it is added here and to docs/deployer-policy.json.
TYPE_ACTIONS = {
    "AWS::DynamoDB::Table": {
        "dynamodb:CreateTable",
        "dynamodb:DeleteTable",
        "dynamodb:DescribeTable",
        "dynamodb:UpdateTable",
        "dynamodb:UpdateContinuousBackups",
        "dynamodb:DescribeContinuousBackups",
        "dynamodb:UpdateTimeToLive",
        "dynamodb:DescribeTimeToLive",
    },
    "AWS::SQS::Queue": {"sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes"},
    "AWS::SQS::QueuePolicy": {"sqs:SetQueueAttributes"},
    "AWS::S3::Bucket": {
        "s3:CreateBucket",
        "s3:DeleteBucket",
        "s3:PutEncryptionConfiguration",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketOwnershipControls",
        "s3:PutLifecycleConfiguration",
    },
    "AWS::S3::BucketPolicy": {"s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketPolicy"},
    "AWS::SecretsManager::Secret": {
        "secretsmanager:CreateSecret",
        "secretsmanager:DeleteSecret",
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetRandomPassword",
    },
    "AWS::SNS::Topic": {"sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes"},
    "AWS::SNS::TopicPolicy": {"sns:SetTopicAttributes"},
    "AWS::SNS::Subscription": {"sns:Subscribe", "sns:Unsubscribe", "sns:SetSubscriptionAttributes"},
    "AWS::SES::ConfigurationSet": {"ses:CreateConfigurationSet", "ses:DeleteConfigurationSet"},
    "AWS::SES::ConfigurationSetEventDestination": {
        "ses:CreateConfigurationSetEventDestination",
        "ses:DeleteConfigurationSetEventDestination",
    },
    "AWS::Logs::LogGroup": {
        "logs:CreateLogGroup",
        "logs:DeleteLogGroup",
        "logs:PutRetentionPolicy",
    },
    "AWS::CloudWatch::Alarm": {"cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"},
    "AWS::CloudWatch::Dashboard": {"cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"},
    "AWS::ApiGateway::DomainName": {"apigateway:POST", "apigateway:DELETE", "apigateway:GET"},
    "AWS::ApiGateway::BasePathMapping": {"apigateway:POST", "apigateway:DELETE"},
    # SAM's: the REST API, its deployment and stage, and each function's permission for it.
    "AWS::Serverless::Api": {
        "apigateway:POST",
        "apigateway:PUT",
        "apigateway:PATCH",
        "apigateway:GET",
        "apigateway:DELETE",
    },
    # SAM's: the function, its role with inline policies, the permissions API Gateway and
    # EventBridge invoke it with, its queue triggers, its schedule; in a VPC, the subnets'.
    "AWS::Serverless::Function": {
        "lambda:CreateFunction",
        "lambda:DeleteFunction",
        "lambda:GetFunction",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:AddPermission",
        "lambda:RemovePermission",
        "lambda:CreateEventSourceMapping",
        "lambda:DeleteEventSourceMapping",
        "lambda:GetEventSourceMapping",
        "iam:CreateRole",
        "iam:DeleteRole",
        "iam:GetRole",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:PassRole",
        "events:PutRule",
        "events:DeleteRule",
        "events:PutTargets",
        "events:RemoveTargets",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
    },
}
# What `sam deploy` itself does: change sets through the SAM transform, the artifacts bucket.
DEPLOY_ACTIONS = {
    "cloudformation:CreateChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:DescribeChangeSet",
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackEvents",
    "cloudformation:GetTemplateSummary",
    "cloudformation:DeleteStack",
    "s3:PutObject",
    "s3:GetObject",
}


def _policy() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(Path(POLICY).read_text())
    return found


def _allowed() -> set[str]:
    return {
        action
        for statement in _policy()["Statement"]
        if statement["Effect"] == "Allow"
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }


def test_the_deployer_policy_covers_every_resource_type_the_template_creates() -> None:
    types = {resource["Type"] for resource in load_template()["Resources"].values()}

    assert types <= set(TYPE_ACTIONS), f"not in TYPE_ACTIONS: {sorted(types - set(TYPE_ACTIONS))}"
    needed = set().union(*(TYPE_ACTIONS[t] for t in types), DEPLOY_ACTIONS)
    assert needed - _allowed() == set()


def test_the_deployer_policy_has_no_wildcard_action() -> None:
    allowed = _allowed()

    assert not [action for action in allowed if action.endswith("*")]
    unscoped = [
        statement["Sid"] for statement in _policy()["Statement"] if statement["Resource"] == "*"
    ]
    # Only what IAM cannot scope to a resource: listing, validating, random passwords, a
    # trigger's id (made by Lambda), an SES configuration set (named by CloudFormation), a
    # VPC's description.
    assert set(unscoped) == {
        "CloudFormationUnscoped",
        "GenerateTheAdminKey",
        "QueueTriggers",
        "LogGroupsList",
        "SesConfigurationSet",
        "FunctionsInAVpc",
    }


def test_functions_join_a_vpc_only_when_subnets_are_given() -> None:
    template = load_template()
    vpc = template["Globals"]["Function"]["VpcConfig"]

    # The loader reads `!If [c, a, b]` as [c, a, b] and `!Ref x` as x.
    assert vpc == [
        "InVpc",
        {"SubnetIds": "VpcSubnetIds", "SecurityGroupIds": "VpcSecurityGroupIds"},
        "AWS::NoValue",
    ]
    assert template["Parameters"]["VpcSubnetIds"]["Default"] == ""


def test_the_custom_domain_is_made_only_when_named() -> None:
    resources = load_template()["Resources"]

    assert resources["ApiDomain"]["Condition"] == "HasApiDomain"
    assert resources["ApiBasePathMapping"]["Condition"] == "HasApiDomain"
    mapping = resources["ApiBasePathMapping"]["Properties"]
    # The stage at the domain's root: https://mail.example.com/api/v2/... as DreamFactory's.
    assert "BasePath" not in mapping
    assert mapping["RestApiId"] == "EmailApi"
