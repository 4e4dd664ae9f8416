"""Channel adapters written in Python, driven by a Dispatcher: deliveries, retries, dead letters,
policy at dispatch, receipts, and the GIL. The C++ equivalents are in tests/test_dispatcher.cpp."""

import datetime as dt
import gc
import threading
import time

import pytest

import tagflow
from conftest import local, scenario_definitions

T0 = local("2026-01-05T10:00")
WELCOME = "Chào bạn, Shop rất vui được hỗ trợ bạn!"

# tests/test_dispatcher.cpp's definitions: a welcome, tags for the delivery triggers, and Messenger
# under its built-in policy (24-hour window).
DEFINITIONS = {
    "schema": 1,
    "tags": ["Đã nhận", "Lỗi gửi", "Bị chặn"],
    "channels": {"messenger": {"policy": "messenger"}},
    "rules": [
        {"name": "welcome", "when": "first_message", "then": [{"send": WELCOME}]},
        {"name": "delivered", "when": "message_delivered", "then": [{"add_tag": "Đã nhận"}]},
        {"name": "failed", "when": "message_failed", "filter": {"cause": "rule:"}, "then": [{"add_tag": "Lỗi gửi"}]},
        {"name": "blocked", "when": "message_blocked", "then": [{"add_tag": "Bị chặn"}]},
    ],
}


class Recording(tagflow.Channel):
    """Accepts everything and remembers what it was asked to send; `script` holds results (or
    exceptions) to give first."""

    def __init__(self, name, script=()):
        super().__init__(name=name, capabilities=tagflow.ChannelCapabilities(max_text=640, max_quick_replies=13))
        self.calls = []
        self.script = list(script)

    def send(self, message, recipient):
        self.calls.append((message.id, message.text, recipient.id, recipient.identities))
        if self.script:
            result = self.script.pop(0)
            if isinstance(result, BaseException):
                raise result
            return result
        return tagflow.SendResult.ok(f"ext-{message.id}")


class Shop:
    """An engine on a VirtualClock with DEFINITIONS (or others) and a dispatcher that never sleeps."""

    def __init__(self, definitions=DEFINITIONS, **options):
        self.clock = tagflow.VirtualClock(T0)
        self.engine = tagflow.Engine(clock=self.clock)
        self.engine.load_definitions(definitions)
        options.setdefault("jitter_seed", 7)
        options.setdefault("sleep", False)
        self.dispatcher = tagflow.Dispatcher(self.engine, **options)

    def only_message(self):
        rows = self.engine.outbox()
        assert len(rows) == 1
        return rows[0]


@pytest.fixture
def shop():
    s = Shop()
    yield s
    s.engine.close()


def test_a_python_adapter_receives_the_sends_of_s5():
    s = Shop(scenario_definitions("s5_first_time_returning.json"))
    messenger = Recording("messenger")
    s.dispatcher.add_channel(messenger)
    s.engine.ingest(tagflow.message("messenger:3001", "Shop ơi", key="mid.1"))
    report = s.dispatcher.dispatch_due()
    assert (report.sent, report.total) == (2, 2)
    assert [c[1] for c in messenger.calls] == [
        WELCOME, "Shop chuyên áo thun và quần jean, giao hàng toàn quốc. Bạn đang tìm mẫu nào ạ?"]
    contact = s.engine.find_contact("messenger:3001")
    assert all(c[2] == contact.id and c[3] == ["messenger:3001"] for c in messenger.calls)
    for m in s.engine.outbox():
        assert (m.status, m.attempts, m.sent_at, m.last_error) == ("sent", 1, T0, None)
        assert m.external_id == f"ext-{m.id}"
        assert not m.waiting
    # Nothing is due any more: a second pass calls nobody.
    assert s.dispatcher.dispatch_due().total == 0
    assert len(messenger.calls) == 2
    assert s.dispatcher.next_due() is None and s.engine.next_message_due is None

    # Days later the contact returns; only the new messages go out.
    s.clock.advance(dt.timedelta(days=3))
    s.engine.ingest(tagflow.order("messenger:3001", "DH1", 350000, ["Áo A"]))
    s.engine.ingest(tagflow.message("messenger:3001", "Shop ơi, còn áo không?", key="mid.2"))
    assert s.dispatcher.dispatch_due().sent == 2
    assert [c[1] for c in messenger.calls[2:]] == ["Chào bạn, rất vui khi bạn quay lại!",
                                                 "Bạn đang cần thêm Áo A hay tìm mẫu mới?"]
    assert s.engine.export_json()  # the delivery events are part of a consistent state
    deliveries = [r for r in s.engine.event_log() if r.kind == "delivery_update"]
    assert [r.key for r in deliveries] == [f"dispatch:{i}/a1" for i in (1, 2, 3, 4)]
    s.engine.close()


def test_an_adapter_created_inline_and_dropped_by_the_caller_still_works(shop):
    shop.dispatcher.add_channel(Recording("zalo"))  # the dispatcher is the only owner
    gc.collect()
    shop.engine.ingest(tagflow.message("zalo:1001", "Xin chào"))
    assert shop.dispatcher.dispatch_due().sent == 1
    adapter = shop.dispatcher.find_channel("zalo")
    assert type(adapter) is Recording and adapter.calls[0][1] == WELCOME
    assert shop.dispatcher.find_channel("telegram") is None
    # Replacing it drops the old one (its Python object is released with the GIL taken).
    shop.dispatcher.add_channel(Recording("zalo"))
    assert shop.dispatcher.find_channel("zalo").calls == []


def test_channel_attributes_may_come_from_the_subclass():
    class Zalo(tagflow.Channel):
        name = "zalo"
        default_policy = "zalo-2026"

        @property
        def capabilities(self):
            return tagflow.ChannelCapabilities(max_buttons=3)

        def send(self, message, recipient):
            return tagflow.SendResult.ok("z")

    z = Zalo()
    assert (z.name, z.default_policy, z.capabilities.max_buttons) == ("zalo", "zalo-2026", 3)
    plain = Recording("sms")
    assert (plain.name, plain.default_policy, plain.capabilities.max_text) == ("sms", "", 640)
    with tagflow.Engine() as e:
        d = tagflow.Dispatcher(e)
        d.add_channel(z)
        assert d.find_channel("zalo") is z

        class Nameless(tagflow.Channel):
            def send(self, message, recipient):
                return tagflow.SendResult.ok("")

        with pytest.raises(ValueError, match="channel name"):
            d.add_channel(Nameless())
        with pytest.raises(ValueError, match="channel name"):
            d.add_channel(Recording("Zalo OA"))

        class NoSend(tagflow.Channel):
            pass

        with pytest.raises(TypeError, match="does not define send"):
            d.add_channel(NoSend(name="web"))
        e.load_definitions(DEFINITIONS)
        e.ingest(tagflow.message("web:1", "hi"))
        with pytest.raises(NotImplementedError):  # Channel.send is abstract
            NoSend(name="web").send(e.outbox()[0], e.contacts()[0])
        with pytest.raises(TypeError):
            d.add_channel("zalo")


def test_temporary_failures_back_off_and_end_in_the_dead_letters():
    s = Shop(max_attempts=3, base_backoff=dt.timedelta(seconds=30))
    failing = Recording("zalo", [tagflow.SendResult.fail(tagflow.Outcome.retry, "-32", "rate limited")] * 3)
    s.dispatcher.add_channel(failing)
    s.engine.ingest(tagflow.message("zalo:1001", "Xin chào"))
    report = s.dispatcher.dispatch_due()
    assert (report.retried, report.total) == (1, 1)
    m = s.only_message()
    assert (m.status, m.attempts, m.last_error) == ("pending", 1, "-32: rate limited")
    first_wait = s.dispatcher.retry_delay(m.key, 1)
    assert dt.timedelta(seconds=30) <= first_wait <= dt.timedelta(seconds=45)
    assert m.next_attempt == T0 + first_wait == m.due == s.dispatcher.next_due()
    assert m.waiting

    assert s.dispatcher.dispatch_due(now=T0 + dt.timedelta(seconds=1)).total == 0  # not due yet
    s.clock.set(m.next_attempt)
    assert s.dispatcher.dispatch_due().retried == 1
    m = s.only_message()
    assert m.next_attempt - s.clock.now() >= dt.timedelta(seconds=60)  # doubled
    s.clock.set(m.next_attempt)
    assert s.dispatcher.dispatch_due().dead_lettered == 1
    m = s.only_message()
    assert m.status == "dead_letter" and "gave up after 3 attempts" in m.last_error
    assert len(failing.calls) == 3
    assert s.engine.find_contact("zalo:1001").has_tag("Lỗi gửi")
    s.engine.close()


def test_a_platform_retry_after_is_waited_out(shop):
    result = tagflow.SendResult.fail("retry", "429", "Too Many Requests", retry_after=dt.timedelta(minutes=5))
    shop.dispatcher.add_channel(Recording("zalo", [result]))
    shop.engine.ingest(tagflow.message("zalo:1001", "Xin chào"))
    shop.dispatcher.dispatch_due()
    assert shop.only_message().next_attempt == T0 + dt.timedelta(minutes=5)


def test_permanent_failures_and_platform_refusals_are_not_retried(shop):
    shop.dispatcher.add_channel(Recording("zalo", [
        tagflow.SendResult.fail(tagflow.Outcome.blocked, "-230", "User has not interacted")]))
    shop.dispatcher.add_channel(Recording("messenger", [
        tagflow.SendResult.fail(tagflow.Outcome.failed, "551", "This person isn't available")]))
    shop.engine.ingest(tagflow.message("zalo:1001", "Xin chào"))
    shop.engine.ingest(tagflow.message("messenger:2001", "Xin chào"))
    report = shop.dispatcher.dispatch_due()
    assert (report.blocked, report.failed, report.total) == (1, 1, 2)
    zalo, messenger = shop.engine.outbox()
    assert (zalo.status, zalo.policy_rule) == ("blocked", "platform:-230")
    assert (messenger.status, messenger.last_error) == ("failed", "551: This person isn't available")
    assert shop.engine.find_contact("zalo:1001").has_tag("Bị chặn")
    assert shop.engine.find_contact("messenger:2001").has_tag("Lỗi gửi")
    shop.clock.advance(dt.timedelta(hours=1))
    assert shop.dispatcher.dispatch_due().total == 0


def test_a_channel_without_an_adapter_is_recorded_as_failed(shop):
    shop.engine.ingest(tagflow.message("telegram:55", "hi"))
    assert shop.dispatcher.dispatch_due().unroutable == 1
    m = shop.only_message()
    assert m.status == "failed" and 'no channel adapter configured for "telegram"' in m.last_error


def test_a_python_exception_in_send_is_recorded_as_a_retry(shop):
    class Broken(Exception):
        pass

    adapter = Recording("zalo", [ConnectionError("socket gone"), Broken("ồ, hỏng rồi"), "not a SendResult"])
    shop.dispatcher.add_channel(adapter)
    shop.engine.ingest(tagflow.message("zalo:1001", "Xin chào"))
    assert shop.dispatcher.dispatch_due().retried == 1
    m = shop.only_message()
    assert m.status == "pending" and m.attempts == 1
    assert "ConnectionError: socket gone" in m.last_error
    # The exception object (and its traceback, which holds the adapter's frame) is released
    # with the GIL held; a later pass goes on normally.
    gc.collect()
    shop.clock.set(m.next_attempt)
    assert shop.dispatcher.dispatch_due().retried == 1
    assert "Broken: ồ, hỏng rồi" in shop.only_message().last_error
    shop.clock.set(shop.only_message().next_attempt)
    assert shop.dispatcher.dispatch_due().retried == 1
    assert "returned a str, not a tagflow.SendResult" in shop.only_message().last_error
    shop.clock.set(shop.only_message().next_attempt)
    assert shop.dispatcher.dispatch_due().sent == 1
    assert shop.only_message().attempts == 4


def test_many_failing_sends_in_one_pass(shop):
    # Every send raises: one exception per row, each created, described and dropped inside the
    # adapter call, while the dispatcher itself runs without the GIL.
    class Flaky(tagflow.Channel):
        def __init__(self):
            super().__init__(name="zalo")

        def send(self, message, recipient):
            raise RuntimeError(f"down for {message.to}")

    shop.dispatcher.add_channel(Flaky())
    shop.engine.ingest_batch([tagflow.message(f"zalo:{i}", "hi") for i in range(40)])
    assert shop.dispatcher.dispatch_due().retried == 40
    assert all(m.last_error == f"exception: RuntimeError: down for {m.to}" for m in shop.engine.outbox())


def test_calling_the_dispatcher_back_from_send_is_refused(shop):
    class Reentrant(tagflow.Channel):
        def __init__(self, dispatcher):
            super().__init__(name="zalo")
            self.dispatcher = dispatcher

        def send(self, message, recipient):
            self.dispatcher.dispatch_due()  # would wait for ever on the dispatcher's own lock
            return tagflow.SendResult.ok("never")

    shop.dispatcher.add_channel(Reentrant(shop.dispatcher))
    shop.engine.ingest(tagflow.message("zalo:1001", "Xin chào"))
    assert shop.dispatcher.dispatch_due().retried == 1
    assert "RuntimeError: Dispatcher.dispatch_due cannot be called from a Channel.send" in shop.only_message().last_error


def test_keyboard_interrupt_in_send_is_recorded_then_raised(shop):
    shop.dispatcher.add_channel(Recording("zalo", [KeyboardInterrupt()]))
    shop.engine.ingest(tagflow.message("zalo:1001", "Xin chào"))
    shop.engine.ingest(tagflow.message("zalo:1002", "Xin chào"))
    with pytest.raises(KeyboardInterrupt):
        shop.dispatcher.dispatch_due()
    first, second = shop.engine.outbox()
    assert first.status == "pending" and "KeyboardInterrupt" in first.last_error
    assert second.status == "sent"  # the pass went on


def test_messenger_policy_blocks_at_dispatch_after_the_window_closed(shop):
    messenger = Recording("messenger")
    shop.dispatcher.add_channel(messenger)
    shop.engine.ingest(tagflow.message("messenger:2001", "Xin chào"))
    m = shop.only_message()
    assert m.status == "pending"  # decided inside the 24-hour window
    allowed = shop.engine.check_policy(m, T0 + dt.timedelta(hours=1))
    assert allowed.outcome == "allow" and allowed.until is None
    later = T0 + dt.timedelta(hours=25)  # the dispatcher was down for a day
    refused = shop.engine.check_policy(m, later)
    assert (refused.outcome, refused.rule) == ("block", "messenger.window_24h")
    report = shop.dispatcher.dispatch_due(now=later)
    assert (report.blocked, report.total) == (1, 1)
    assert messenger.calls == []
    m = shop.only_message()
    assert (m.status, m.policy_rule) == ("blocked", "messenger.window_24h")
    assert "24 hours" in m.reason
    assert shop.engine.find_contact("messenger:2001").has_tag("Bị chặn")
    state = shop.engine.find_contact("messenger:2001").channels["messenger"]
    assert state.last_inbound == T0


def test_receipts_move_the_status_forward(shop):
    shop.dispatcher.add_channel(Recording("zalo"))
    shop.engine.ingest(tagflow.message("zalo:1001", "Xin chào"))
    shop.dispatcher.dispatch_due()
    shop.engine.ingest(tagflow.receipt("zalo:1001", "ext-1", "delivered", at=T0 + dt.timedelta(minutes=1),
                                       key="zalo:recv:1"))
    m = shop.only_message()
    assert (m.status, m.delivered_at, m.read_at) == ("delivered", T0 + dt.timedelta(minutes=1), None)
    assert shop.engine.find_contact("zalo:1001").has_tag("Đã nhận")
    shop.engine.ingest(tagflow.receipt("zalo:1001", "ext-1", tagflow.DeliveryStatus.read,
                                       at=T0 + dt.timedelta(minutes=2)))
    m = shop.only_message()
    assert (m.status, m.read_at) == ("read", T0 + dt.timedelta(minutes=2))
    # A receipt for a message another tool sent is accepted and changes nothing.
    before = shop.engine.export_json()
    assert shop.engine.ingest(tagflow.receipt("zalo:1001", "not-ours", "read")).event_id == 0
    assert shop.engine.export_json() == before
    with pytest.raises(tagflow.EventError) as e:
        shop.engine.ingest(tagflow.delivery(99, tagflow.DeliveryStatus.sent))
    assert e.value.field == "message_id"
    with pytest.raises(tagflow.EventError) as e:
        shop.engine.ingest(tagflow.receipt("zalo:1001", "ext-1", "seen"))
    assert e.value.field == "delivery"


def test_a_delivery_recorded_by_hand_and_follow_events(shop):
    shop.engine.ingest(tagflow.message("zalo:1001", "Xin chào"))
    shop.engine.ingest(tagflow.delivery(1, "sent", external_id="mid.1", key="dispatch:1/a1"))
    m = shop.only_message()
    assert (m.status, m.external_id, m.sent_at) == ("sent", "mid.1", T0)
    shop.engine.ingest(tagflow.follow("zalo:1001"))
    assert shop.engine.find_contact("zalo:1001").channels["zalo"].follower is True
    shop.engine.ingest(tagflow.unfollow("zalo:1001"))
    assert shop.engine.find_contact("zalo:1001").channels["zalo"].follower is False
    kinds = [e["kind"] for e in shop.engine.input_events()]
    assert kinds == ["message_received", "delivery_update", "followed", "unfollowed"]


def test_a_capped_message_waits_for_not_before():
    defs = {"schema": 1, "caps": [{"purpose": "promotional", "max": 1, "per": "24h"}],
            "rules": [{"name": "promo", "when": "message_received",
                       "then": [{"send": {"text": "Ưu đãi {{conversations}}", "purpose": "promotional"}}]}]}
    s = Shop(defs)
    zalo = Recording("zalo")
    s.dispatcher.add_channel(zalo)
    s.engine.ingest(tagflow.message("zalo:1", "a"))
    s.engine.ingest(tagflow.message("zalo:1", "b", at=T0 + dt.timedelta(hours=1)))
    first, second = s.engine.outbox()
    assert (first.not_before, first.purpose) == (None, "promotional")
    assert second.status == "deferred" and second.not_before == T0 + dt.timedelta(hours=24)
    assert [m.id for m in s.engine.due_messages(T0 + dt.timedelta(hours=2))] == [first.id]
    assert s.dispatcher.dispatch_due(now=T0 + dt.timedelta(hours=2)).sent == 1
    assert s.dispatcher.next_due() == second.not_before
    assert s.dispatcher.dispatch_due(now=second.not_before).sent == 1
    assert len(zalo.calls) == 2
    s.engine.close()


def test_dispatch_releases_the_gil_while_the_dispatcher_waits_on_a_rate_limit():
    # A channel paced at 4 messages a second: the dispatcher sleeps 250 ms in C++ between two
    # sends. Another Python thread keeps ingesting; its ingests complete during that sleep only
    # when dispatch_due released the GIL (holding it, they could run only in the moments the
    # dispatching thread runs Python code itself).
    defs = dict(DEFINITIONS, policies={"paced": {"channel": "zalo", "rate_per_second": 4, "rules": []}},
                channels={"zalo": {"policy": "paced"}})
    s = Shop(defs, sleep=True)
    sends = []  # (start, end) of each send
    ingested = []  # when each ingest of the other thread completed
    stop = threading.Event()

    class Timed(Recording):
        def send(self, message, recipient):
            start = time.monotonic()
            result = super().send(message, recipient)
            sends.append((start, time.monotonic()))
            return result

    def other():
        i = 0
        while not stop.is_set():
            s.engine.ingest(tagflow.track(f"web:{i}", "viewed", at=T0))  # decides no message
            ingested.append(time.monotonic())
            i += 1
            time.sleep(0.002)

    s.engine.ingest_batch([tagflow.message("zalo:1", "a"), tagflow.message("zalo:2", "b")])
    s.dispatcher.add_channel(Timed("zalo"))
    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert s.dispatcher.dispatch_due(now=T0).sent == 2
    finally:
        stop.set()
        thread.join(10)
    (_, first_end), (second_start, _) = sends
    assert second_start - first_end >= 0.2  # it did wait for the rate limit
    during = [t for t in ingested if first_end < t < second_start]
    assert len(during) >= 5, f"only {len(during)} ingests completed while the dispatcher slept"

    # With sleep=False the same pacing costs no time (simulations).
    fast = Shop(defs, sleep=False)
    fast.dispatcher.add_channel(Recording("zalo"))
    fast.engine.ingest_batch([tagflow.message(f"zalo:{i}", "x") for i in range(4)])
    started = time.monotonic()
    assert fast.dispatcher.dispatch_due().sent == 4
    assert time.monotonic() - started < 0.5
    s.engine.close()
    fast.engine.close()


def test_dispatch_in_one_thread_while_others_ingest(tmp_path):
    with tagflow.Engine(tmp_path / "dispatch.db", durability="normal") as e:
        e.load_definitions(DEFINITIONS)
        d = tagflow.Dispatcher(e, sleep=False)
        zalo = Recording("zalo")
        d.add_channel(zalo)
        stop = threading.Event()
        errors = []

        def ingest(t):
            try:
                for i in range(40):
                    e.ingest(tagflow.message(f"zalo:{t}-{i}", "hi", key=f"{t}-{i}"))
            except BaseException as x:  # reported below
                errors.append(x)

        def dispatch():
            try:
                while not stop.is_set():
                    d.dispatch_due()
            except BaseException as x:
                errors.append(x)

        dispatcher_thread = threading.Thread(target=dispatch)
        dispatcher_thread.start()
        ingesters = [threading.Thread(target=ingest, args=(t,)) for t in range(3)]
        for th in ingesters:
            th.start()
        for th in ingesters:
            th.join(60)
            assert not th.is_alive(), "an ingesting thread did not finish (deadlock?)"
        stop.set()
        dispatcher_thread.join(60)
        assert not dispatcher_thread.is_alive()
        assert errors == []
        d.dispatch_due()  # whatever arrived after the last pass
        rows = e.outbox()
        assert len(rows) == 120
        assert all(m.status == "sent" and m.attempts == 1 for m in rows)
        assert sorted(c[0] for c in zalo.calls) == [m.id for m in rows]  # each sent exactly once


def test_a_closed_engine_refuses_dispatch():
    e = tagflow.Engine()
    d = tagflow.Dispatcher(e)
    e.close()
    with pytest.raises(ValueError, match="closed"):
        d.dispatch_due()
    with pytest.raises(ValueError, match="closed"):
        d.add_channel(Recording("zalo"))
    assert d.engine is e


def test_dispatcher_options():
    with tagflow.Engine() as e:
        d = tagflow.Dispatcher(e)
        assert (d.max_attempts, d.base_backoff, d.max_backoff, d.jitter_seed, d.batch, d.sleep) == (
            6, dt.timedelta(seconds=30), dt.timedelta(hours=1), 0, 100, True)
        d = tagflow.Dispatcher(e, max_attempts=2, base_backoff=dt.timedelta(seconds=1), jitter_seed=3, batch=5)
        assert d.retry_delay("k", 1) == d.retry_delay("k", 1)
        assert dt.timedelta(seconds=1) <= d.retry_delay("k", 1) <= dt.timedelta(seconds=1.5)
        with pytest.raises(tagflow.Error, match="max_attempts"):
            tagflow.Dispatcher(e, max_attempts=0)
        with pytest.raises(tagflow.Error, match="batch"):
            tagflow.Dispatcher(e, batch=0)
        with pytest.raises(TypeError):
            tagflow.Dispatcher(e, base_backoff=30)
        with pytest.raises(TypeError):
            tagflow.Dispatcher("shop.db")


def test_send_results():
    ok = tagflow.SendResult.ok("mid.1")
    assert (ok.outcome, ok.external_id, ok.retry_after) == (tagflow.Outcome.sent, "mid.1", None)
    assert ok == tagflow.SendResult(external_id="mid.1")
    r = tagflow.SendResult.fail(tagflow.Outcome.retry, "429", "slow down", retry_after=dt.timedelta(seconds=3))
    assert (r.outcome.name, r.error_code, r.detail, r.retry_after) == ("retry", "429", "slow down",
                                                                       dt.timedelta(seconds=3))
    assert r != ok and repr(r) == "SendResult.fail(Outcome.retry, '429', 'slow down')"
    with pytest.raises(ValueError):
        tagflow.SendResult.fail("sent", "", "")
    with pytest.raises(ValueError):
        tagflow.SendResult.fail("maybe", "", "")
    with pytest.raises(ValueError):
        tagflow.SendResult.fail("retry", retry_after=dt.timedelta(seconds=-1))
    r.retry_after = None
    r.outcome = tagflow.Outcome.failed
    assert r.retry_after is None and r.outcome == tagflow.Outcome.failed


def test_degrade_shapes_a_message_for_a_channel():
    defs = {"schema": 1, "flows": [{"name": "menu", "triggers": [{"postback": "MENU"}], "blocks": [
        {"id": "ask", "kind": "send", "text": "Bạn cần gì ạ? Shop có áo thun và quần jean, giao hàng toàn quốc.",
         "quick_replies": ["Giá", "Size"], "buttons": [{"title": "Thanh toán", "payload": "CHECKOUT"}]}]}]}
    with tagflow.Engine() as e:
        e.load_definitions(defs)
        e.ingest(tagflow.postback("zalo:1", "MENU"))
        m = e.outbox()[0]
        assert m.quick_replies == ["Giá", "Size"] and m.buttons == [tagflow.Button("Thanh toán", "CHECKOUT")]
        rich = tagflow.degrade(m, tagflow.ChannelCapabilities(max_buttons=3, max_quick_replies=13))
        assert rich.parts == [m.text] and rich.quick_replies == ["Giá", "Size"] and rich.buttons == m.buttons
        plain = tagflow.degrade(m, tagflow.ChannelCapabilities(max_text=40))
        assert plain.buttons == [] and plain.quick_replies == []
        assert len(plain.parts) >= 2 and all(len(p) <= 40 for p in plain.parts)
        whole = "\n".join(plain.parts)
        assert "Thanh toán" in whole and "Size" in whole  # numbered lines instead of buttons


def test_policies_can_be_evaluated_directly():
    names = tagflow.builtin_policy_names()
    assert {"messenger", "zalo-2026", "whatsapp"} <= set(names) and names == sorted(names)
    state = tagflow.ChannelState(last_inbound=T0)
    within = tagflow.evaluate_policy("messenger", at=T0 + dt.timedelta(hours=23), state=state)
    assert within.outcome == "allow"
    after = tagflow.evaluate_policy("messenger", at=T0 + dt.timedelta(hours=25), state=state)
    assert (after.outcome, after.rule) == ("block", "messenger.window_24h")
    human = tagflow.evaluate_policy("messenger", at=T0 + dt.timedelta(hours=25), state=state, by_human=True)
    assert human.outcome == "allow"
    night = local("2026-01-05T23:00")
    promo = tagflow.evaluate_policy("zalo-2026", at=night, purpose="promotional",
                                    state=tagflow.ChannelState(last_inbound=night, follower=True))
    assert (promo.outcome, promo.rule, promo.until) == ("defer", "zalo.promotion_hours", local("2026-01-06T06:00"))
    custom = tagflow.evaluate_policy({"currency": "VND", "rules": [
        {"kind": "price", "id": "every", "price": 55}]}, at=T0)
    assert (custom.outcome, custom.cost, custom.currency, custom.rule) == ("allow", 55.0, "VND", "every")
    with pytest.raises(tagflow.NotFoundError):
        tagflow.evaluate_policy("zalo-1999", at=T0)
    with pytest.raises(tagflow.DefinitionError):
        tagflow.evaluate_policy({"rules": [{"kind": "nope"}]}, at=T0)


def test_contacts_show_their_channels_and_sequences():
    defs = {"schema": 1, "tags": ["Chưa chốt"],
            "sequences": [{"name": "nhắc", "follows": {"tag": "Chưa chốt"},
                           "steps": [{"after": "2h", "send": "Bạn còn quan tâm không ạ?"}]}]}
    clock = tagflow.VirtualClock(T0)
    with tagflow.Engine(clock=clock) as e:
        e.load_definitions(defs)
        e.ingest(tagflow.message("zalo:1", "hi"))
        e.ingest(tagflow.add_tag("zalo:1", "Chưa chốt"))
        c = e.find_contact("zalo:1")
        st = c.sequences["nhắc"]
        assert (st.entered, st.next_step, st.active, st.completed, st.sends) == (T0, 0, True, False, 0)
        assert st.timer is not None and st.left_at is None and st.last_step_at is None
        assert c.channels["zalo"].last_inbound == T0 and c.channels["zalo"].follower is None
        assert c.channels["zalo"] == tagflow.ChannelState(last_inbound=T0)
        e.advance_to(T0 + dt.timedelta(hours=2))
        st = e.find_contact("zalo:1").sequences["nhắc"]
        assert (st.next_step, st.sends, st.last_step_at) == (1, 1, T0 + dt.timedelta(hours=2))
