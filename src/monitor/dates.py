"""Reading dates people type, and showing stored UTC times in their zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from monitor.errors import CommandRejected


def parse_moment(value: str, zone: tzinfo, *, end_of_day: bool = False) -> datetime:
    """``YYYY-MM-DD`` or an ISO 8601 date-time, read in ``zone`` unless it names its own.

    A bare date means the start of that day in ``zone`` (or its last instant with
    ``end_of_day``, which is what "as of 2024-06-30" means).
    """
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime.combine(day, time(0), tzinfo=zone)
            if end_of_day:
                start = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
                return (start - timedelta(microseconds=1)).astimezone(UTC)
            return start.astimezone(UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise CommandRejected(
            f"{value!r} is not a usable date: use YYYY-MM-DD or an ISO 8601 time such as "
            "2024-04-10T09:30+09:00"
        ) from exc


def local(moment: datetime | None, zone: tzinfo, *, seconds: bool = False) -> str:
    """A stored UTC time as the user reads it: ``2024-04-10 18:30 JST``."""
    if moment is None:
        return ""
    shown = moment.astimezone(zone)
    return shown.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def local_date(moment: datetime | None, zone: tzinfo) -> str:
    """Only the date part of :func:`local`."""
    return moment.astimezone(zone).date().isoformat() if moment else ""
