"""Virtual and custom clocks: the time of events that carry none."""

import datetime as dt

import pytest

import tagflow
from conftest import SHOP_RULES, local

START = local("2026-01-05T10:00")


def test_virtual_clock_basics():
    clock = tagflow.VirtualClock(START)
    assert clock.now() == START
    assert clock.now().utcoffset() == dt.timedelta(0)
    assert clock() == START
    assert clock.advance(dt.timedelta(minutes=5)) == START + dt.timedelta(minutes=5)
    clock.set(local("2026-02-01T08:00"))
    assert clock.now() == local("2026-02-01T08:00")
    clock.set("2026-03-01T00:00:00Z")
    assert clock.now() == dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    assert "2026-03-01T00:00:00Z" in repr(clock)
    with pytest.raises(ValueError):
        clock.advance(dt.timedelta(seconds=-1))
    with pytest.raises(tagflow.Error):
        tagflow.VirtualClock(dt.datetime(2026, 1, 5))  # naive
    with pytest.raises(TypeError):
        clock.advance(5)


def test_milliseconds_are_kept_and_microseconds_dropped():
    clock = tagflow.VirtualClock(START.replace(microsecond=123456))
    assert clock.now().microsecond == 123000


def test_events_without_a_time_take_the_virtual_clock():
    clock = tagflow.VirtualClock(START)
    with tagflow.Engine(clock=clock) as e:
        assert e.clock is clock
        assert e.now == START
        e.load_definitions(SHOP_RULES)
        e.ingest(tagflow.message("zalo:1", "Xin chào"))
        e.ingest(tagflow.profile("zalo:1", name="Minh"))
        c = e.find_contact("zalo:1")
        assert c.first_seen == START
        assert e.outbox()[0].created_at == START

        clock.advance(dt.timedelta(hours=2))
        assert e.now == START + dt.timedelta(hours=2)
        assert e.ingest(tagflow.message("zalo:1", "còn đó không")).rules_fired == []

        clock.advance(dt.timedelta(days=2))
        back = e.ingest(tagflow.message("zalo:1", "Shop ơi"))
        assert back.rules_fired == ["welcome back"]
        assert e.find_contact("zalo:1").last_inbound == START + dt.timedelta(days=2, hours=2)
        # An explicit time still wins over the clock.
        e.ingest(tagflow.note("zalo:1", "staff:lan", "ghi chú", at=local("2026-01-01T00:00")))
        assert e.find_contact("zalo:1").notes[0].at == local("2026-01-01T00:00")


def test_one_virtual_clock_can_drive_several_engines():
    clock = tagflow.VirtualClock(START)
    with tagflow.Engine(clock=clock) as a, tagflow.Engine(clock=clock) as b:
        clock.advance(dt.timedelta(days=1))
        assert a.now == b.now == START + dt.timedelta(days=1)


def test_a_callable_clock():
    now = [START]
    with tagflow.Engine(clock=lambda: now[0]) as e:
        e.load_definitions(SHOP_RULES)
        e.ingest(tagflow.message("zalo:1", "hi"))
        now[0] = START + dt.timedelta(days=3)
        assert e.ingest(tagflow.message("zalo:1", "hi")).rules_fired == ["welcome back"]
        assert e.now == START + dt.timedelta(days=3)


def test_a_bad_callable_clock_refuses_the_event_and_writes_nothing():
    with tagflow.Engine(clock=lambda: dt.datetime(2026, 1, 5)) as e:  # naive
        with pytest.raises(tagflow.Error) as err:
            e.ingest(tagflow.message("zalo:1", "hi"))
        assert err.value.code == "invalid_argument"
        assert "naive" in str(err.value)
        assert e.contacts() == []
        e.ingest(tagflow.message("zalo:1", "hi", at=START))  # a given time needs no clock
        assert len(e.contacts()) == 1

    def broken():
        raise KeyError("no time today")

    with tagflow.Engine(clock=broken) as e:
        with pytest.raises(tagflow.Error) as err:
            e.ingest(tagflow.message("zalo:1", "hi"))
        assert "no time today" in str(err.value)
    with pytest.raises(TypeError):
        tagflow.Engine(clock="noon")


def test_the_system_clock_is_the_default():
    with tagflow.Engine() as e:
        before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
        assert before <= e.now <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
