"""The metrics this service publishes, by name: the ones its alarms and dashboard read.

Every metric has the dimension `service`: the application's name (POWERTOOLS_SERVICE_NAME,
`email-api` deployed), not the email service's. Email services are data an admin creates at
will, and every distinct set of dimension values is a custom metric CloudWatch bills
(and an alarm must name); the email service's name is in the log line of each send instead.
`failed` is published twice: with `service` alone (for the failure rate), and with `service`
and `reason` (a fixed set of machine reasons, `core.errors`), to see which failures.
"""

from __future__ import annotations

from enum import StrEnum


class Metric(StrEnum):
    # A message's outcomes, one each time its record moves on (`core.message_events`).
    ACCEPTED = "accepted"  # a record was written: sent now or queued
    SENT = "sent"
    FAILED = "failed"
    DEFERRED = "deferred"  # an attempt failed for now; a retry is coming
    RETRIED = "retried"  # an attempt after the first reached an outcome
    UNKNOWN = "unknown"  # handed over, but what the server made of it is not known
    SUPPRESSED = "suppressed"  # a recipient kept out by the suppression list
    RATE_LIMITED = "rate_limited"  # a role's or a provider's limit refused a message
    # One transaction with the provider, as the deliverer timed and the transport counted.
    SMTP_LATENCY = "smtp_latency"  # milliseconds, from taking a connection to the reply
    ROUND_TRIPS = "round_trips"  # replies waited for, connecting and greeting included
