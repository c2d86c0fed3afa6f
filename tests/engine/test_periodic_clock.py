"""When periodic ticks fall (engine/periodic/clock.py, spec.py): EVERY, cron in a time zone
across both daylight-saving changes, and the definition's validation. The clock is driven
through the API (``next_tick(after)``), never by sleeping."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from django_jobqueue import PeriodicJob
from django_jobqueue.engine.periodic import clock

PARIS = clock.zone("Europe/Paris")


def at(text: str) -> int:
    """Epoch seconds of an ISO time with its offset."""
    return int(datetime.fromisoformat(text).timestamp())


def paris(tick: int) -> str:
    return datetime.fromtimestamp(tick, PARIS).isoformat()


def ticks(job: PeriodicJob, start: str, count: int) -> list[str]:
    out, t = [], at(start)
    for _ in range(count):
        t = job.next_tick(t)
        out.append(paris(t))
    return out


def test_every_ticks_are_aligned_on_the_epoch_and_strictly_after():
    job = PeriodicJob("p", "tests.engine.jobs_periodic.noop", every=30)
    assert job.next_tick(1_000_000_000) == 1_000_000_020  # 1e9 is 20 s past a multiple
    assert job.next_tick(1_000_000_020) == 1_000_000_050
    assert job.next_tick(1_000_000_019.9) == 1_000_000_020
    assert job.last_tick(1_000_000_049.5) == 1_000_000_020


def test_cron_fires_at_local_wall_time():
    job = PeriodicJob("p", "m.f", cron="0 3 * * *", timezone="Europe/Paris")
    # winter (UTC+1) then summer (UTC+2): 03:00 local both times
    assert paris(job.next_tick(at("2026-01-10T12:00:00+00:00"))) == "2026-01-11T03:00:00+01:00"
    assert paris(job.next_tick(at("2026-07-10T12:00:00+00:00"))) == "2026-07-11T03:00:00+02:00"


def test_spring_forward_a_skipped_time_fires_once_at_the_jump():
    # 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day
    daily = PeriodicJob("p", "m.f", cron="30 2 * * *", timezone="Europe/Paris")
    assert ticks(daily, "2026-03-28T12:00:00+01:00", 3) == [
        "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"]
    every_quarter = PeriodicJob("q", "m.f", cron="*/15 * * * *", timezone="Europe/Paris")
    assert ticks(every_quarter, "2026-03-29T01:40:00+01:00", 4) == [
        "2026-03-29T01:45:00+01:00",
        "2026-03-29T03:00:00+02:00",  # 02:00, 02:15, 02:30, 02:45: one tick, at the jump
        "2026-03-29T03:15:00+02:00", "2026-03-29T03:30:00+02:00"]


def test_fall_back_a_repeated_hour_fires_once():
    # 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:00-02:59 happens twice
    daily = PeriodicJob("p", "m.f", cron="30 2 * * *", timezone="Europe/Paris")
    assert ticks(daily, "2026-10-24T12:00:00+02:00", 2) == [
        "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
    half_hourly = PeriodicJob("q", "m.f", cron="*/30 * * * *", timezone="Europe/Paris")
    assert ticks(half_hourly, "2026-10-25T01:40:00+02:00", 4) == [
        "2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00",
        "2026-10-25T03:00:00+01:00",  # the second 02:00 and 02:30 (CET) do not fire
        "2026-10-25T03:30:00+01:00"]
    # inside the repeated hour's second pass: the next tick is after it, never a repeat
    inside = at("2026-10-25T02:10:00+01:00")
    assert paris(half_hourly.next_tick(inside)) == "2026-10-25T03:00:00+01:00"


def test_last_tick_is_the_latest_at_or_before():
    job = PeriodicJob("p", "m.f", cron="0 3 * * *", timezone="Europe/Paris")
    assert paris(job.last_tick(at("2026-07-11T05:00:00+02:00"))) == "2026-07-11T03:00:00+02:00"
    assert paris(job.last_tick(at("2026-07-11T03:00:00+02:00"))) == "2026-07-11T03:00:00+02:00"


def test_utc_is_the_engine_default():
    job = PeriodicJob("p", "m.f", cron="0 * * * *")
    tick = job.next_tick(at("2026-05-01T10:20:00+00:00"))
    assert datetime.fromtimestamp(tick, timezone.utc).isoformat() == "2026-05-01T11:00:00+00:00"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cron": "61 * * * *"}, "invalid cron expression"),
    ({"cron": "0 3 * *"}, "five fields"),
    ({"cron": "* * * * * *"}, "five fields"),
    ({}, "exactly one of cron= and every="),
    ({"cron": "0 3 * * *", "every": 5}, "exactly one of cron= and every="),
    ({"every": 0}, "at least 1 second"),
    ({"every": "soon"}, "every must be"),
    ({"every": 5, "timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"every": 5, "missed": "all"}, "missed must be one of"),
    ({"every": 5, "queue": "bad queue"}, "invalid queue name"),
    ({"every": 5, "priority": 500}, "priority"),
])
def test_bad_definitions_are_refused_with_the_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PeriodicJob("p", "m.f", **kwargs)


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    (("bad name!", "m.f"), {"every": 5}, "Invalid periodic job name"),
    (("p", "m.f"), {"every": 5, "frequency": 2}, "unknown option"),
    (("p", "m.f"), {"every": 5, "args": "x"}, "args must be a list"),
    (("p", "m.f"), {"every": 5, "overlap": "yes"}, "overlap must be"),
    (("p", lambda: None), {"every": 5}, "lambda"),
])
def test_bad_arguments_raise_type_or_value_errors(args, kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        PeriodicJob(*args, **kwargs)


def test_descriptions_in_words():
    assert PeriodicJob("p", "m.f", every=30).describe() == "Every 30 seconds"
    assert PeriodicJob("p", "m.f", every=7200).describe() == "Every 2 hours"
    assert PeriodicJob("p", "m.f", cron="0 3 * * *").describe() == "At 03:00"


def test_the_digest_follows_the_definition():
    a = PeriodicJob("p", "m.f", every=30, args=[1])
    assert a.digest() == PeriodicJob("p", "m.f", every=30, args=[1]).digest()
    assert a.digest() != PeriodicJob("p", "m.f", every=30, args=[2]).digest()
    assert a.digest() != PeriodicJob("p", "m.f", every=60, args=[1]).digest()
    assert a.digest() != PeriodicJob("p", "m.f", every=30, args=[1], enabled=False).digest()
