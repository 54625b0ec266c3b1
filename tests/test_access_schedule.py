"""Weekly windows and validity bounds, including daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from plategate.access.entry import Validity, make_entry
from plategate.access.schedule import in_any_window, parse_window
from plategate.errors import AccessError

BERLIN = ZoneInfo("Europe/Berlin")


def test_parse_forms_and_canonical_text():
    assert parse_window("Mon-Fri 07:00-19:00").text() == "Mon,Tue,Wed,Thu,Fri 07:00-19:00"
    assert parse_window("sat,SUNDAY 9:00-12:30").text() == "Sat,Sun 09:00-12:30"
    assert parse_window("daily 00:00-24:00").days == frozenset(range(7))
    assert parse_window("Fri-Mon 22:00-06:00").text() == "Mon,Fri,Sat,Sun 22:00-06:00"


@pytest.mark.parametrize("text", ["", "Mon", "Mon 7-9", "Xyz 07:00-09:00", "Mon 07:00-07:00", "Mon 25:00-26:00",
                                  "Mon 07:60-08:00", "Mon 24:00-01:00", 42])
def test_bad_windows_are_refused_with_the_text(text):
    with pytest.raises(AccessError) as err:
        parse_window(text)
    assert "window" in str(err.value)


def test_window_uses_local_wall_clock_across_dst():
    w = (parse_window("Mon-Fri 07:00-08:00"),)
    # Winter (CET, UTC+1): 06:30 UTC is 07:30 local -> inside.
    assert in_any_window(w, datetime(2026, 3, 27, 6, 30, tzinfo=UTC), BERLIN)  # Friday before the change
    # Summer (CEST, UTC+2) after the change on Sunday 29 March: 06:30 UTC is 08:30 local -> outside,
    # 05:30 UTC is 07:30 local -> inside.
    assert not in_any_window(w, datetime(2026, 3, 30, 6, 30, tzinfo=UTC), BERLIN)
    assert in_any_window(w, datetime(2026, 3, 30, 5, 30, tzinfo=UTC), BERLIN)
    # Back to winter time (25 October 2026).
    assert in_any_window(w, datetime(2026, 10, 26, 6, 30, tzinfo=UTC), BERLIN)
    assert not in_any_window(w, datetime(2026, 10, 26, 5, 30, tzinfo=UTC), BERLIN)


def test_window_on_the_dst_night_itself():
    w = (parse_window("Sun 01:00-04:00"),)
    # 29 March 2026: local clocks jump 02:00 -> 03:00. 00:30 UTC = 01:30 CET; 01:30 UTC = 03:30 CEST.
    assert in_any_window(w, datetime(2026, 3, 29, 0, 30, tzinfo=UTC), BERLIN)
    assert in_any_window(w, datetime(2026, 3, 29, 1, 30, tzinfo=UTC), BERLIN)
    assert not in_any_window(w, datetime(2026, 3, 29, 2, 30, tzinfo=UTC), BERLIN)  # 04:30 local


def test_overnight_window_belongs_to_its_start_day():
    w = (parse_window("Fri 22:00-06:00"),)
    utc = ZoneInfo("UTC")
    assert in_any_window(w, datetime(2026, 11, 20, 23, 0, tzinfo=UTC), utc)  # Friday 23:00
    assert in_any_window(w, datetime(2026, 11, 21, 5, 59, tzinfo=UTC), utc)  # Saturday 05:59
    assert not in_any_window(w, datetime(2026, 11, 21, 6, 0, tzinfo=UTC), utc)
    assert not in_any_window(w, datetime(2026, 11, 20, 5, 0, tzinfo=UTC), utc)  # Friday early: Thursday not listed


def test_no_windows_means_always():
    assert in_any_window((), datetime(2026, 1, 1, tzinfo=UTC), BERLIN)


def test_validity_bounds_local_and_absolute():
    e = make_entry("AB1", valid_from="2026-06-01", valid_until="2026-06-30")
    assert e.validity(datetime(2026, 5, 31, 21, 59, tzinfo=UTC), BERLIN) is Validity.NOT_YET_VALID  # 23:59 local
    assert e.validity(datetime(2026, 5, 31, 22, 0, tzinfo=UTC), BERLIN) is Validity.VALID  # 00:00 local
    assert e.validity(datetime(2026, 6, 30, 21, 59, tzinfo=UTC), BERLIN) is Validity.VALID  # until = end of day
    assert e.validity(datetime(2026, 6, 30, 22, 0, tzinfo=UTC), BERLIN) is Validity.EXPIRED
    absolute = make_entry("AB1", valid_until="2026-06-30T12:00:00+02:00")
    assert absolute.valid_until == "2026-06-30T10:00:00Z"
    assert absolute.validity(datetime(2026, 6, 30, 10, 0, tzinfo=UTC), BERLIN) is Validity.EXPIRED


@pytest.mark.parametrize("field,value", [("valid_from", "yesterday"), ("valid_until", "2026-13-01"), ("valid_from", 5)])
def test_bad_bounds_name_the_field(field, value):
    with pytest.raises(AccessError, match=field):
        make_entry("AB1", **{field: value})


def test_until_before_from_is_refused():
    with pytest.raises(AccessError, match="not after"):
        make_entry("AB1", valid_from="2026-06-02", valid_until="2026-06-01")
