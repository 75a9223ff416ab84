"""Times as alert tools write them, read into aware datetimes (`domain/types.parse_time`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sre_copilot.domain.types import parse_time

WHEN = datetime(2026, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-05-01T08:00:00.123456Z", WHEN),
    ("2026-05-01T08:00:00.123456789Z", WHEN),  # Alertmanager's nanoseconds
    ("2026-05-01T08:00:00.123456+0000", WHEN),  # CloudWatch's offset
    (" 2026-05-01T10:00:00.123456+02:00 ", WHEN),
    ("2026-05-01T08:00:00.123456", WHEN),  # no zone: UTC
    ("1777622400123", datetime(2026, 5, 1, 8, 0, 0, 123000, tzinfo=UTC)),  # epoch milliseconds as text
])
def test_text_times_read_the_same_every_time(text: str, expected: datetime) -> None:
    # Given a time as one of the alert tools writes it
    # When it is read twice (the second read comes from the cache)
    first, second = parse_time(text), parse_time(text)
    # Then both reads give the same instant, aware
    assert first == second == expected
    assert first.tzinfo is not None and first.utcoffset() == second.utcoffset()


def test_an_offset_is_kept_as_written() -> None:
    # Given a time with a +02:00 offset
    parsed = parse_time("2026-05-01T10:00:00+02:00")
    # Then the instant is right and the offset is the one written
    assert parsed.utcoffset() == timedelta(hours=2)
    assert parsed.tzinfo == timezone(timedelta(hours=2))


def test_a_bad_time_is_refused_every_time() -> None:
    # Given text that is not a time, read twice
    for _ in range(2):
        # Then each read refuses it with the text in the message (errors are not cached away)
        with pytest.raises(ValueError, match="not an RFC 3339 time: 'yesterday'"):
            parse_time("yesterday")
