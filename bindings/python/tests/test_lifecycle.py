"""Opening, closing and reopening engines: context manager, SQLite persistence, paths."""

import os

import pytest

import tagflow
from conftest import SHOP_RULES, local


def test_context_manager_closes_the_engine(tmp_path):
    path = tmp_path / "shop.db"
    with tagflow.Engine(path) as e:
        assert not e.closed
        e.load_definitions(SHOP_RULES)
        e.ingest(tagflow.message("zalo:1", "hi"))
    assert e.closed
    assert repr(e).endswith("closed>")
    with pytest.raises(ValueError):
        e.ingest(tagflow.message("zalo:2", "hi"))
    with pytest.raises(ValueError):
        e.contacts()
    with pytest.raises(ValueError):
        e.now
    with pytest.raises(ValueError):
        with e:
            pass
    e.close()  # idempotent
    # The file is closed: it can be removed and recreated.
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(str(path) + suffix):
            os.remove(str(path) + suffix)
    with tagflow.Engine(path) as fresh:
        assert fresh.contacts() == []


def test_context_manager_closes_on_an_exception():
    with pytest.raises(RuntimeError):
        with tagflow.Engine() as e:
            raise RuntimeError("boom")
    assert e.closed


def test_an_engine_reopened_on_its_file_continues_where_it_stopped(tmp_path):
    path = tmp_path / "shop.db"
    with tagflow.Engine(path) as e:
        assert e.path == str(path)
        assert e.load_definitions(SHOP_RULES) == 1
        first = e.ingest(tagflow.message("zalo:1", "hi", key="k1", at=local("2026-01-05T10:00")))
        e.ingest(tagflow.note("zalo:1", "staff:lan", "Thích màu xanh", at=local("2026-01-05T10:01")))
        e.ingest(tagflow.profile("zalo:1", name="Lan", fields={"size": "M"}))
        exported = e.export_json()
    with tagflow.Engine(str(path)) as e:  # a str path works as well as a Path
        assert e.export_json() == exported
        assert e.definitions_version == 1
        assert e.load_definitions(SHOP_RULES) == 1  # identical document: no new version
        again = e.ingest(tagflow.message("zalo:1", "hi", key="k1"))
        assert again.duplicate and again.event_id == first.event_id
        c = e.find_contact("zalo:1")
        assert (c.name, c.fields, c.notes[0].text) == ("Lan", {"size": "M"}, "Thích màu xanh")
        second = e.ingest(tagflow.message("zalo:2", "hi", at=local("2026-01-05T10:00")))
        assert second.contact_id == first.contact_id + 1
        assert len(e.outbox()) == 2
        assert e.outbox()[1].id == 2


def test_none_and_memory_open_private_in_memory_engines():
    with tagflow.Engine() as a, tagflow.Engine(":memory:") as b:
        assert a.path is None and b.path is None
        a.load_definitions(SHOP_RULES)
        a.ingest(tagflow.message("zalo:1", "hi"))
        assert len(a.contacts()) == 1
        assert b.contacts() == []


def test_options_are_readable():
    with tagflow.Engine(default_time_zone="Asia/Bangkok", max_cascade_depth=3) as e:
        assert e.default_time_zone == "Asia/Bangkok"
        assert e.max_cascade_depth == 3
        assert e.clock is None


def test_an_engine_dropped_without_close_releases_the_file(tmp_path):
    path = tmp_path / "dropped.db"
    e = tagflow.Engine(path)
    e.load_definitions(SHOP_RULES)
    e.ingest(tagflow.message("zalo:1", "hi"))
    del e
    with tagflow.Engine(path) as again:
        assert len(again.contacts()) == 1


def test_engines_left_open_at_interpreter_exit_shut_down_cleanly(tmp_path):
    import subprocess
    import sys
    import textwrap
    script = textwrap.dedent(f"""
        import datetime as dt, tagflow
        clock = lambda: dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
        kept = tagflow.Engine({str(tmp_path / "exit.db")!r}, clock=clock)
        kept.ingest(tagflow.message("zalo:1", "hi"))
        virtual = tagflow.Engine(clock=tagflow.VirtualClock("2026-01-05T00:00:00Z"))
        virtual.ingest(tagflow.message("zalo:1", "hi"))
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    with tagflow.Engine(tmp_path / "exit.db") as e:
        assert len(e.contacts()) == 1
