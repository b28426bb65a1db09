"""The process's X-Ray tracer (Powertools): a no-op outside Lambda, so the local stack and
the tests run without a daemon.

It patches botocore alone, so every AWS call (DynamoDB, Secrets Manager, SQS, S3, SES) is a
subsegment of its own; the SMTP handover is one too (`Deliverer.deliver`). A subsegment keeps
neither what a traced method returns nor its error: both can name recipients, and a trace
is no place for an address.
"""

from __future__ import annotations

from aws_lambda_powertools import Tracer

tracer = Tracer(patch_modules=["botocore"])
