"""`/api/v2/system/stats`: the daily counters of every service, or one, for admins."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from core import runtime
from core.services.model import SERVICE_NAME
from core.stats.report import DEFAULT_DAYS, MAX_DAYS, daily_stats
from core.validation import ISO_DATE_ONLY
from handlers.answers import StatsAnswer, documented, errors

router = Router()
TAGS = ["stats"]


@router.get(
    "/api/v2/system/stats",
    summary="Daily numbers per service",
    description=f"A row per service and UTC day that has any: messages accepted, sent, failed,"
    " deferred, unknown and cancelled; recipients sent to, delivered, bounced, complained,"
    " delayed and suppressed; the bounce and complaint rates (over the recipients sent to)"
    f" and the SES thresholds they reach. At most {MAX_DAYS} days; by default the last"
    f" {DEFAULT_DAYS}. Counted as things happen, so a day's provider events (deliveries,"
    " bounces) count on the day SES reports them.",
    tags=TAGS,
    responses={200: documented("The days asked for.", StatsAnswer), **errors(400, 401, 403)},
)
def get_stats(
    service: Annotated[
        str | None, Query(pattern=SERVICE_NAME.pattern, description="Only this service's days.")
    ] = None,
    since: Annotated[
        Annotated[date, ISO_DATE_ONLY] | None,
        Query(description="The first day (`YYYY-MM-DD`, UTC); by default 29 days before `until`."),
    ] = None,
    until: Annotated[
        Annotated[date, ISO_DATE_ONLY] | None,
        Query(description="The last day, included; by default today, or 29 days after `since`."),
    ] = None,
) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    report = daily_stats(runtime.stats_store(), today, service=service, since=since, until=until)
    return report.answer()
