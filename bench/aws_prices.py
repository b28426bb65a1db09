"""What the AWS calls a send makes cost, per 1,000 mails, at public list prices.

The counts come from `bench.aws_calls`; this module only holds the price table and turns a
tally of calls, invocations, seconds and log bytes into dollars. Every price is us-east-1's
on-demand list price, without the free tier (which would make a small volume free), as of
`PRICES_AS_OF`, each with the page it comes from. Prices change: check the pages before
deciding, and read the figures as ratios (what dominates, what is noise), not as an invoice.
"""

from __future__ import annotations

from dataclasses import dataclass

REGION = "us-east-1"
PRICES_AS_OF = "2025-06 (list prices as last published; not re-checked since: check them)"
MILLION = 1_000_000


@dataclass(frozen=True)
class Price:
    """`usd` for one `unit`; `source` is the public page it comes from."""

    usd: float
    unit: str
    source: str


# --- AWS, us-east-1 ----------------------------------------------------------------------------

# https://aws.amazon.com/lambda/pricing/ : $0.20 per 1M requests; x86 $0.0000166667 per GB-s
# (the first tier, 6 billion GB-s a month). Billed by the millisecond.
LAMBDA_REQUEST = Price(0.20 / MILLION, "request", "aws.amazon.com/lambda/pricing")
LAMBDA_GB_SECOND = Price(0.0000166667, "GB-second (x86)", "aws.amazon.com/lambda/pricing")
# https://aws.amazon.com/api-gateway/pricing/ : REST APIs, $3.50 per million (first 333M).
API_GATEWAY_REST_REQUEST = Price(
    3.50 / MILLION, "REST request", "aws.amazon.com/api-gateway/pricing"
)
# https://aws.amazon.com/dynamodb/pricing/on-demand/ : $0.625 per million write request units,
# $0.125 per million read request units (Standard table class, since the 2024-11 price cut).
DYNAMODB_WRITE_UNIT = Price(
    0.625 / MILLION, "write request unit", "aws.amazon.com/dynamodb/pricing/on-demand"
)
DYNAMODB_READ_UNIT = Price(
    0.125 / MILLION, "read request unit", "aws.amazon.com/dynamodb/pricing/on-demand"
)
# https://aws.amazon.com/sqs/pricing/ : standard queues, $0.40 per million requests (each 64 KB
# chunk of a payload is a request; the jobs here are a few KB).
SQS_REQUEST = Price(0.40 / MILLION, "request", "aws.amazon.com/sqs/pricing")
# https://aws.amazon.com/secrets-manager/pricing/ : $0.05 per 10,000 API calls; $0.40 per
# secret a month (a fixed cost, not per mail).
SECRETS_MANAGER_CALL = Price(0.05 / 10_000, "API call", "aws.amazon.com/secrets-manager/pricing")
# https://aws.amazon.com/kms/pricing/ : $0.03 per 10,000 requests.
KMS_REQUEST = Price(0.03 / 10_000, "request", "aws.amazon.com/kms/pricing")
# https://aws.amazon.com/s3/pricing/ : S3 Standard, $0.005 per 1,000 PUT/COPY/POST/LIST,
# $0.0004 per 1,000 GET and others; DELETE is free.
S3_WRITE_REQUEST = Price(0.005 / 1_000, "PUT request", "aws.amazon.com/s3/pricing")
S3_READ_REQUEST = Price(0.0004 / 1_000, "GET request", "aws.amazon.com/s3/pricing")
# https://aws.amazon.com/cloudwatch/pricing/ : Logs, standard class, $0.50 per GB ingested
# (EMF metric lines are log lines: billed the same); storage $0.03 per GB-month, not counted.
LOGS_INGESTED_BYTE = Price(0.50 / 1024**3, "byte ingested", "aws.amazon.com/cloudwatch/pricing")
# https://aws.amazon.com/xray/pricing/ : $5.00 per million traces recorded.
XRAY_TRACE = Price(5.00 / MILLION, "trace recorded", "aws.amazon.com/xray/pricing")
# https://aws.amazon.com/sns/pricing/ : $0.50 per million publishes; delivery to SQS is free.
SNS_PUBLISH = Price(0.50 / MILLION, "publish", "aws.amazon.com/sns/pricing")
# https://aws.amazon.com/ses/pricing/ : $0.10 per 1,000 emails (outbound, no attachments'
# data charge counted).
SES_PER_1000 = Price(0.10, "1,000 emails", "aws.amazon.com/ses/pricing")

# X-Ray's default sampling rule records the first request each second and 5% of the rest: at any
# volume worth costing, about 5% of invocations.
XRAY_SAMPLED_FRACTION = 0.05

# The operations that cost S3's write price (everything else S3 is a read, or free: DELETE).
S3_WRITES = frozenset({"PutObject", "CopyObject", "PostObject", "ListObjectsV2", "ListObjects"})
S3_FREE = frozenset({"DeleteObject", "DeleteObjects"})


@dataclass(frozen=True)
class HostedPeer:
    """A hosted sending service's entry plan: `usd_per_month` for `mails_per_month`."""

    name: str
    plan: str
    usd_per_month: float
    mails_per_month: int
    source: str

    @property
    def per_1000(self) -> float:
        return self.usd_per_month / self.mails_per_month * 1_000


HOSTED_PEERS_AS_OF = "2025-06: list prices, check before deciding"
HOSTED_PEERS = (
    HostedPeer("Postmark", "Basic", 15.00, 10_000, "postmarkapp.com/pricing"),
    HostedPeer("SendGrid", "Essentials", 19.95, 50_000, "sendgrid.com/pricing"),
    HostedPeer("Mailgun", "Basic", 15.00, 10_000, "mailgun.com/pricing"),
    HostedPeer("Resend", "Pro", 20.00, 50_000, "resend.com/pricing"),
)


@dataclass
class Usage:
    """What one scenario used, in the units AWS bills; `messages` is what it sent."""

    messages: int
    calls: dict[str, int]  # "dynamodb.GetItem" -> calls
    read_units: float = 0  # DynamoDB
    write_units: float = 0
    invocations: dict[str, int] | None = None  # function -> invocations
    lambda_gb_seconds: float = 0
    api_requests: int = 0
    log_bytes: int = 0  # log lines and EMF lines, as CloudWatch Logs ingests them
    sns_publishes: int = 0  # SES publishing its events


@dataclass(frozen=True)
class CostLine:
    item: str
    per_mail: float  # how many of `unit` one mail costs
    unit: str
    usd_per_1000: float


def _calls_of(usage: Usage, service: str, operations: frozenset[str] | None = None) -> int:
    return sum(
        count
        for name, count in usage.calls.items()
        if name.split(".")[0] == service
        and (operations is None or name.split(".")[1] in operations)
    )


def cost_lines(usage: Usage) -> list[CostLine]:
    """Each billed item of `usage`, per mail and in dollars per 1,000 mails."""
    per_mail = 1 / usage.messages
    invocations = sum((usage.invocations or {}).values())
    s3_all = _calls_of(usage, "s3")
    s3_writes = _calls_of(usage, "s3", S3_WRITES)
    s3_free = _calls_of(usage, "s3", S3_FREE)
    quantities = [
        ("API Gateway (REST)", usage.api_requests, API_GATEWAY_REST_REQUEST),
        ("Lambda requests", invocations, LAMBDA_REQUEST),
        ("Lambda duration", usage.lambda_gb_seconds, LAMBDA_GB_SECOND),
        ("DynamoDB reads", usage.read_units, DYNAMODB_READ_UNIT),
        ("DynamoDB writes", usage.write_units, DYNAMODB_WRITE_UNIT),
        ("SQS", _calls_of(usage, "sqs"), SQS_REQUEST),
        ("Secrets Manager", _calls_of(usage, "secretsmanager"), SECRETS_MANAGER_CALL),
        ("KMS", _calls_of(usage, "kms"), KMS_REQUEST),
        ("S3 writes", s3_writes, S3_WRITE_REQUEST),
        ("S3 reads", s3_all - s3_writes - s3_free, S3_READ_REQUEST),
        ("SNS (SES events)", usage.sns_publishes, SNS_PUBLISH),
        ("CloudWatch Logs", usage.log_bytes, LOGS_INGESTED_BYTE),
        ("X-Ray (5% sampled)", invocations * XRAY_SAMPLED_FRACTION, XRAY_TRACE),
    ]
    return [
        CostLine(item, quantity * per_mail, price.unit, quantity * per_mail * price.usd * 1_000)
        for item, quantity, price in quantities
        if quantity
    ]
