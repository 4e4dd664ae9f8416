"""The engine shared between Python threads: nothing lost, nothing doubled, no deadlock."""

import datetime as dt
import threading

import tagflow
from conftest import SHOP_RULES

THREADS = 4
PER_THREAD = 50


def run_threads(target):
    errors = []
    start = threading.Barrier(THREADS)

    def body(t):
        try:
            start.wait()
            target(t)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=body, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
        assert not th.is_alive(), "a thread did not finish (deadlock?)"
    assert errors == []


def test_ingest_from_four_threads_loses_nothing(tmp_path):
    with tagflow.Engine(tmp_path / "threads.db", durability="normal") as e:
        e.load_definitions(SHOP_RULES)
        results = {}

        def work(t):
            for i in range(PER_THREAD):
                r = e.ingest(tagflow.message(f"zalo:{t * 1000 + i}", "hi", key=f"{t}-{i}"))
                results[(t, i)] = r

        run_threads(work)
        assert len(e.contacts()) == THREADS * PER_THREAD
        assert len(e.outbox()) == THREADS * PER_THREAD
        inputs = [r for r in e.event_log() if r.origin == "input"]
        assert len(inputs) == THREADS * PER_THREAD
        assert sorted(r.event_id for r in results.values()) == sorted(r.id for r in inputs)
        assert len({r.contact_id for r in results.values()}) == THREADS * PER_THREAD
        assert all(r.contact_created and not r.duplicate for r in results.values())


def test_the_same_events_from_four_threads_are_processed_once():
    with tagflow.Engine() as e:
        e.load_definitions(SHOP_RULES)
        duplicates = []

        def work(t):
            events = [tagflow.message(f"zalo:{i}", "hi", key=f"k-{i}") for i in range(PER_THREAD)]
            for r in e.ingest_batch(events[:10]) + [e.ingest(ev) for ev in events[10:]]:
                duplicates.append(r.duplicate)

        run_threads(work)
        assert len(e.contacts()) == PER_THREAD
        assert len(e.outbox()) == PER_THREAD
        assert duplicates.count(False) == PER_THREAD
        assert duplicates.count(True) == (THREADS - 1) * PER_THREAD


def test_queries_while_other_threads_ingest():
    with tagflow.Engine() as e:
        e.load_definitions(SHOP_RULES)

        def work(t):
            for i in range(PER_THREAD):
                if t % 2 == 0:
                    e.ingest(tagflow.message(f"zalo:{t}-{i}", "giá?"))
                else:
                    assert len(e.contacts()) <= THREADS * PER_THREAD
                    e.export_json()
                    e.outbox()

        run_threads(work)
        assert len(e.contacts()) == 2 * PER_THREAD


def test_a_python_clock_is_called_from_engine_threads_without_deadlock():
    base = dt.datetime(2026, 1, 5, 3, 0, tzinfo=dt.timezone.utc)
    calls = []
    lock = threading.Lock()

    def clock():
        with lock:
            calls.append(1)
            return base + dt.timedelta(seconds=len(calls))

    with tagflow.Engine(clock=clock) as e:
        e.load_definitions(SHOP_RULES)
        run_threads(lambda t: [e.ingest(tagflow.message(f"zalo:{t}-{i}", "hi")) for i in range(20)])
        assert len(e.contacts()) == THREADS * 20
        assert len(calls) >= THREADS * 20
        assert all(c.first_seen > base for c in e.contacts())


def test_close_waits_for_calls_in_progress(tmp_path):
    e = tagflow.Engine(tmp_path / "close.db")
    e.load_definitions(SHOP_RULES)
    accepted = []
    refused = []

    def work(t):
        if t == 0:
            e.ingest(tagflow.message("zalo:first", "hi"))  # let the others get going
            e.close()
            return
        for i in range(PER_THREAD):
            try:
                e.ingest(tagflow.message(f"zalo:{t}-{i}", "hi", key=f"{t}-{i}"))
                accepted.append(f"{t}-{i}")
            except ValueError:
                refused.append(f"{t}-{i}")
                return

    run_threads(work)
    assert e.closed
    # Every ingest that returned is in the file; nothing else is.
    with tagflow.Engine(tmp_path / "close.db") as again:
        keys = sorted(r.key for r in again.event_log() if r.origin == "input" and r.key)
        assert keys == sorted(accepted)
        assert again.find_contact("zalo:first") is not None
