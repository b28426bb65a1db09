"""What an option's value may be: the `type=` converters of the `mailer` command line. Each
turns the text given into the value the command takes, or says why it cannot
(`argparse.ArgumentTypeError`, which argparse shows as a usage error)."""

from __future__ import annotations

import argparse
import math
import re
from datetime import UTC, date, datetime, timedelta

# The largest page the API's paged lists take (the suppression list, a webhook's deliveries).
MAX_PAGE_SIZE = 100
RELATIVE_TIME = re.compile(r"\+(?P<count>[0-9]{1,5})(?P<unit>[mhd])")
RELATIVE_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def aware_time(text: str) -> str:
    """An ISO 8601 time with its zone, as given; or `+N` minutes, hours or days from now."""
    relative = RELATIVE_TIME.fullmatch(text)
    if relative:
        count, unit = int(relative["count"]), RELATIVE_UNITS[relative["unit"]]
        later = datetime.now(UTC).replace(microsecond=0) + timedelta(**{unit: count})
        return later.isoformat()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time, nor +N followed by m, h or d: {text!r}"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the time's zone (Z or +01:00): {text!r}")
    return text


def iso_date(text: str) -> str:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None
    return day.isoformat()


def positive_int(text: str) -> int:
    return _int_at_least(text, 1)


def page_size(text: str) -> int:
    size = positive_int(text)
    if size > MAX_PAGE_SIZE:
        raise argparse.ArgumentTypeError(f"at most {MAX_PAGE_SIZE}")
    return size


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0)


def _int_at_least(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}: {text!r}")
    return value


def port(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number more than 0: {text!r}")
    return value
