"""Flows from Python: timers driven by advance_to, explain(), block counters, run migration,
handoffs. The C++ equivalents are in tests/test_flows.cpp."""

import datetime as dt

import pytest

import tagflow
from conftest import local, scenario_definitions

D0 = local("2026-01-05T09:00")
HOUR = dt.timedelta(hours=1)


def one_flow(blocks, extra_fields=()):
    """A one-flow document started by the postback GO (the one_flow() of tests/test_flows.cpp)."""
    return {
        "schema": 1,
        "tags": ["A", "B"],
        "fields": [{"name": "age", "type": "number"}, {"name": "colour", "type": "text"},
                   {"name": "count", "type": "number"}, *extra_fields],
        "flows": [{"name": "f", "triggers": [{"postback": "GO"}], "blocks": blocks}],
    }


class Harness:
    """An in-memory engine on a VirtualClock; wait() moves the clock and fires due timers."""

    def __init__(self, definitions, who="zalo:1", start=D0):
        self.clock = tagflow.VirtualClock(start)
        self.engine = tagflow.Engine(clock=self.clock)
        self.engine.load_definitions(definitions)
        self.who = who
        self.seen = 0

    def go(self, who=None):
        return self.engine.ingest(tagflow.postback(who or self.who, "GO"))

    def say(self, text, who=None):
        return self.engine.ingest(tagflow.message(who or self.who, text))

    def wait(self, delta):
        return self.engine.advance_to(self.clock.advance(delta))

    def sent(self, with_to=False):
        """What was sent since the last call: texts, or (to, text) pairs."""
        rows = self.engine.outbox(after_id=self.seen)
        if rows:
            self.seen = rows[-1].id
        return [(m.to, m.text) if with_to else m.text for m in rows]

    def me(self, who=None):
        return self.engine.find_contact(who or self.who)


@pytest.fixture
def harness_of():
    made = []

    def make(definitions, **kwargs):
        h = Harness(definitions, **kwargs)
        made.append(h)
        return h

    yield make
    for h in made:
        h.engine.close()


# ----- timers: advance_to and next_timer


def test_s5_goes_quiet_follow_up_after_two_hours_is_cancelled_by_a_reply(harness_of):
    h = harness_of(scenario_definitions("s5_goes_quiet.json"))
    question = "Bạn đang tìm áo hay quần ạ?"
    follow_up_1 = "Bạn còn quan tâm sản phẩm không ạ? Shop đang có ưu đãi cho khách mới."
    follow_up_2 = "Shop giữ ưu đãi cho bạn đến hết hôm nay nhé!"
    replied = "Dạ shop tư vấn ngay cho bạn ạ."
    assert h.engine.next_timer is None
    for who, text in [("messenger:5001", "Hi shop"), ("messenger:5002", "Chào shop"), ("messenger:5003", "Alo")]:
        h.say(text, who=who)
    assert h.sent(with_to=True) == [(f"messenger:500{i}", question) for i in (1, 2, 3)]
    run = h.me("messenger:5001").run
    assert isinstance(run, tagflow.FlowRun)
    assert (run.flow, run.block, run.waiting) == ("consult", "wait_2h", "reply")
    assert run.timer is not None and run.request is None and run.stack == [] and run.retries == 0
    assert run.definitions_version == 1
    assert h.me("messenger:5001").tags == {"Đang tư vấn"}
    assert h.engine.next_timer == D0 + 2 * HOUR
    assert h.engine.next_timer.tzinfo == dt.timezone.utc

    h.clock.set(local("2026-01-05T09:40"))
    h.say("Mình tìm áo", who="messenger:5003")  # answers in time: its timer goes in the same transaction
    assert h.sent(with_to=True) == [("messenger:5003", replied)]
    assert h.me("messenger:5003").run is None

    assert h.engine.advance_to(local("2026-01-05T10:59")) == 0
    assert h.sent() == []
    assert h.engine.advance_to(local("2026-01-05T11:00")) == 2  # only the two quiet contacts
    h.clock.set(local("2026-01-05T11:00"))
    assert h.sent(with_to=True) == [("messenger:5001", follow_up_1), ("messenger:5002", follow_up_1)]
    assert h.engine.outbox()[-1].created_at == local("2026-01-05T11:00")  # fired at its due time
    assert h.me("messenger:5001").run.block == "wait_24h"

    h.clock.set(local("2026-01-05T12:00"))
    h.say("Có, mình tìm quần", who="messenger:5002")
    assert h.sent(with_to=True) == [("messenger:5002", replied)]

    assert h.engine.next_timer == local("2026-01-06T09:00")  # only 5001's follow-up is left
    h.clock.set(local("2026-01-06T08:59"))
    assert h.engine.advance_to(h.clock.now()) == 0
    assert h.wait(dt.timedelta(minutes=1)) == 1
    assert h.sent(with_to=True) == [("messenger:5001", follow_up_2)]
    assert h.me("messenger:5001").tags == {"Đang tư vấn", "Chưa chốt"}
    assert "Chưa chốt" not in h.me("messenger:5002").tags
    assert h.wait(dt.timedelta(days=7)) == 0
    assert h.sent() == []
    assert h.engine.next_timer is None


def test_an_ask_block_re_asks_then_follows_up_when_the_contact_goes_quiet(harness_of):
    h = harness_of(one_flow([
        {"id": "q", "kind": "ask", "text": "Bạn bao nhiêu tuổi?", "input": "number", "field": "age",
         "quick_replies": ["18", "30"], "retry_text": "Bạn nhập số giúp shop nhé", "max_retries": 2,
         "timeout": "2h", "on_timeout": "nudge", "next": "ok"},
        {"id": "nudge", "kind": "send", "text": "Shop vẫn chờ bạn nhé", "next": "again"},
        {"id": "again", "kind": "ask", "text": "Bạn bao nhiêu tuổi?", "input": "number", "field": "age",
         "next": "ok"},
        {"id": "ok", "kind": "send", "text": "Cảm ơn, {{age}} tuổi"}]))
    h.go()
    assert h.sent() == ["Bạn bao nhiêu tuổi?"]
    assert h.engine.outbox()[-1].quick_replies == ["18", "30"]
    h.clock.advance(dt.timedelta(minutes=10))
    h.say("ba mươi")
    assert h.sent() == ["Bạn nhập số giúp shop nhé"]
    assert h.me().run.retries == 1
    assert h.engine.next_timer == D0 + 2 * HOUR  # the timeout counts from the question
    assert h.wait(dt.timedelta(minutes=109)) == 0
    assert h.wait(dt.timedelta(minutes=1)) == 1
    assert h.sent() == ["Shop vẫn chờ bạn nhé", "Bạn bao nhiêu tuổi?"]
    run = h.me().run
    assert (run.block, run.waiting, run.timer) == ("again", "reply", None)
    h.say("30")
    assert h.sent() == ["Cảm ơn, 30 tuổi"]
    assert h.me().fields["age"] == 30.0
    assert h.me().run is None


def test_advance_to_takes_aware_datetimes_or_iso_text_only(harness_of):
    h = harness_of(one_flow([{"id": "w", "kind": "wait", "delay": "3h", "next": "s"},
                             {"id": "s", "kind": "send", "text": "later"}]))
    h.go()
    assert h.engine.next_timer == D0 + 3 * HOUR
    with pytest.raises(tagflow.Error, match="naive") as caught:
        h.engine.advance_to(dt.datetime(2026, 1, 5, 12))
    assert caught.value.code == "invalid_argument"
    with pytest.raises(TypeError):
        h.engine.advance_to(12)
    assert h.engine.advance_to("2026-01-05T04:59:59Z") == 0  # 11:59:59 in Hà Nội
    assert h.engine.advance_to("2026-01-05T12:00:00+07:00") == 1
    assert h.sent() == ["later"]
    assert h.engine.advance_to(D0 + 30 * HOUR) == 0


def test_timers_survive_reopening_the_sqlite_file(tmp_path):
    db = tmp_path / "timers.db"
    definitions = one_flow([
        {"id": "w", "kind": "wait", "delay": "3h", "next": "s"},
        {"id": "s", "kind": "send", "text": "later", "buttons": [{"title": "OK", "payload": "OK"}]}])
    with tagflow.Engine(db) as e:
        e.load_definitions(definitions)
        e.ingest(tagflow.postback("zalo:1", "GO", at=D0))
        assert e.advance_to(D0 + HOUR) == 0
    with tagflow.Engine(db) as e:
        assert e.next_timer == D0 + 3 * HOUR
        assert e.advance_to(D0 + 5 * HOUR) == 1
        [row] = e.outbox()
        assert row.text == "later"
        assert row.created_at == D0 + 3 * HOUR
        assert row.buttons == [tagflow.Button("OK", "OK")]
        assert e.next_timer is None


# ----- what flows put on messages and contacts


def test_send_blocks_carry_quick_replies_and_buttons(harness_of):
    h = harness_of(one_flow([
        {"id": "hi", "kind": "send", "text": "Chào bạn", "quick_replies": ["Áo", "Quần"],
         "buttons": [{"title": "Thanh toán", "payload": "CHECKOUT"}, {"title": "Gọi shop", "payload": "CALL"}],
         "next": "bye"},
        {"id": "bye", "kind": "send", "text": "Tạm biệt"}]))
    h.go()
    first, second = h.engine.outbox()
    assert first.quick_replies == ["Áo", "Quần"]
    assert first.buttons == [tagflow.Button("Thanh toán", "CHECKOUT"), tagflow.Button("Gọi shop", "CALL")]
    button = first.buttons[0]
    assert (button.title, button.payload) == ("Thanh toán", "CHECKOUT")
    assert repr(button) == "Button('Thanh toán', 'CHECKOUT')"
    assert first.form is None
    assert first.cause == "flow:f/hi"
    assert (second.quick_replies, second.buttons) == ([], [])
    with pytest.raises(TypeError):
        tagflow.Button("x", 1)


def test_a_form_block_names_its_form_on_the_message_and_the_contact(harness_of):
    h = harness_of(one_flow([
        {"id": "form", "kind": "form", "form": "size_form", "text": "Điền size giúp shop",
         "fields": [{"name": "colour", "label": "Màu"}], "next": "thanks"},
        {"id": "thanks", "kind": "send", "text": "Cảm ơn, màu {{colour}}"}]))
    h.go()
    [row] = h.engine.outbox()
    assert row.form == "size_form"
    c = h.me()
    assert c.open_form == "f/form"
    assert c.run.waiting == "form"
    h.engine.ingest(tagflow.form_submitted(h.who, "size_form", {"colour": "đỏ"}))
    assert h.sent() == ["Điền size giúp shop", "Cảm ơn, màu đỏ"]
    assert h.me().open_form is None
    assert h.me().run is None


def test_a_called_flow_shows_its_caller_on_the_run_stack(harness_of):
    h = harness_of({"schema": 1, "fields": [{"name": "colour", "type": "text"}], "flows": [
        {"name": "main", "triggers": [{"postback": "GO"}], "blocks": [
            {"id": "c", "kind": "call", "flow": "sub", "next": "back"},
            {"id": "back", "kind": "send", "text": "back {{colour}}"}]},
        {"name": "sub", "blocks": [{"id": "q", "kind": "ask", "text": "Màu?", "field": "colour"}]}]})
    h.go()
    run = h.me().run
    assert (run.flow, run.block, run.waiting) == ("sub", "q", "reply")
    assert run.stack == [("main", "back")]
    assert run == h.me().run
    assert "sub/q" in repr(run)
    h.say("xanh")
    assert h.sent() == ["Màu?", "back xanh"]


# ----- explain, counters, migration


WHY_BLOCKS = [
    {"id": "c", "kind": "condition", "branches": [{"if": 'tag("A")', "next": "yes"}], "else": "no"},
    {"id": "yes", "kind": "send", "text": "yes"},
    {"id": "no", "kind": "tag", "add": ["A"], "next": "ask"},
    {"id": "ask", "kind": "ask", "text": "Màu?", "field": "colour", "next": "yes"},
]


def test_explain_a_flow_message_by_its_input_the_flow_and_the_blocks_passed(harness_of):
    h = harness_of(one_flow(WHY_BLOCKS))
    h.engine.ingest(tagflow.postback(h.who, "GO", key="pb-1"))
    [row] = h.engine.outbox()
    why = h.engine.explain(row.id)
    assert isinstance(why, tagflow.Explanation)
    assert why.message == row
    assert why.decided_by == "flow:f/ask"
    assert why.chain and all(isinstance(r, tagflow.EventRecord) for r in why.chain)
    root = why.chain[0]
    assert (root.origin, root.key, root.kind) == ("input", "pb-1", "postback")
    entered = [s.data["block"] for s in why.steps if s.kind == "block_entered"]
    assert entered == ["c", "no", "ask"]
    assert [s.id for s in why.steps] == sorted(s.id for s in why.steps)
    assert why.rules_fired == []
    assert "flow:f/ask" in repr(why)
    with pytest.raises(tagflow.NotFoundError) as caught:
        h.engine.explain(999)
    assert caught.value.code == "not_found"


def test_explain_a_rule_message_names_the_rule():
    with tagflow.Engine() as e:
        e.load_definitions({"schema": 1, "rules": [
            {"name": "welcome", "when": "first_message", "then": [{"send": "Chào bạn"}]}]})
        e.ingest(tagflow.message("zalo:1", "hi", key="m1"))
        why = e.explain(e.outbox()[0].id)
        assert why.decided_by == "rule:welcome"
        assert why.rules_fired == ["welcome"]
        assert why.chain[0].key == "m1"


def test_block_counters_count_entries_waits_and_completions(harness_of):
    h = harness_of(one_flow(WHY_BLOCKS))
    h.go()
    counters = h.engine.block_counters()
    assert all(isinstance(c, tagflow.BlockCounter) for c in counters)
    assert [(c.flow, c.block) for c in counters] == sorted((c.flow, c.block) for c in counters)
    by_block = {c.block: c for c in counters}
    assert (by_block["c"].entered, by_block["c"].waiting, by_block["c"].completed) == (1, 0, 1)
    assert (by_block["ask"].entered, by_block["ask"].waiting, by_block["ask"].completed) == (1, 1, 0)
    assert "yes" not in by_block  # blocks nobody entered have no counter
    h.say("đỏ")
    after = {c.block: c for c in h.engine.block_counters()}
    assert (after["ask"].waiting, after["ask"].completed) == (0, 1)
    assert after["yes"].entered == 1
    assert after["ask"] != by_block["ask"]
    assert "f/ask" in repr(after["ask"])


def test_migrate_runs_moves_runs_whose_block_still_exists():
    v1 = {"schema": 1, "fields": [{"name": "colour", "type": "text"}], "flows": [
        {"name": "f", "triggers": [{"postback": "GO"}], "blocks": [
            {"id": "q", "kind": "ask", "text": "v1?", "field": "colour", "next": "done"},
            {"id": "done", "kind": "send", "text": "v1 done"}]},
        {"name": "g", "triggers": [{"postback": "GO2"}], "blocks": [
            {"id": "old", "kind": "ask", "text": "g?", "field": "colour"}]}]}
    v2 = {"schema": 1, "fields": [{"name": "colour", "type": "text"}], "flows": [
        {"name": "f", "triggers": [{"postback": "GO"}], "blocks": [
            {"id": "q", "kind": "ask", "text": "v2?", "field": "colour", "next": "done"},
            {"id": "done", "kind": "send", "text": "v2 done"}]},
        {"name": "g", "triggers": [{"postback": "GO2"}], "blocks": [
            {"id": "new", "kind": "ask", "text": "g2?", "field": "colour"}]}]}
    with tagflow.Engine() as e:
        e.load_definitions(v1)
        first = e.ingest(tagflow.postback("zalo:1", "GO")).contact_id
        second = e.ingest(tagflow.postback("zalo:2", "GO2")).contact_id
        assert e.load_definitions(v2) == 2
        m = e.migrate_runs()
        assert isinstance(m, tagflow.RunMigration)
        assert m.migrated == 1
        assert m.left == [second]
        assert e.get_contact(first).run.definitions_version == 2
        assert e.get_contact(second).run.definitions_version == 1
        assert any(r.kind == "run_migrated" and r.contact_id == first for r in e.event_log())
        e.ingest(tagflow.message("zalo:1", "xanh"))
        assert e.outbox()[-1].text == "v2 done"
        again = e.migrate_runs()
        assert (again.migrated, again.left) == (0, [second])
        assert repr(again) == "<RunMigration migrated=0 left=1>"


# ----- handoff


HANDOFF = {"schema": 1, "tags": ["Cần chăm sóc"],
           "rules": [{"name": "echo", "when": "message_received", "then": [{"send": "bot: {{name}}"}]}],
           "flows": [{"name": "f", "triggers": [{"postback": "GO"}, {"postback": "GO2"}], "blocks": [
               {"id": "tag", "kind": "tag", "add": ["Cần chăm sóc"], "next": "human"},
               {"id": "human", "kind": "handoff", "next": "back"},
               {"id": "back", "kind": "send", "text": "Bot đã quay lại"}]},
               {"name": "g", "triggers": [{"postback": "TIMED"}], "blocks": [
                   {"id": "human", "kind": "handoff", "duration": "2h", "next": "back"},
                   {"id": "back", "kind": "send", "text": "Hết 2 giờ"}]}]}


def test_a_handoff_pauses_automation_until_resume_automation(harness_of):
    h = harness_of(HANDOFF)
    h.go()
    c = h.me()
    assert c.paused and c.paused_until is None  # until a person hands it back
    assert (c.run.block, c.run.waiting) == ("human", "handoff")
    h.say("Cho mình gặp nhân viên")
    h.engine.ingest(tagflow.postback(h.who, "GO2"))
    assert h.sent() == []  # neither the rule nor the flow speaks while a human has it
    assert any(r.kind == "automation_paused" for r in h.engine.event_log())

    event = tagflow.resume_automation(h.who, key="staff-resume-1")
    assert event == {"kind": "automation_resumed", "identity": h.who, "key": "staff-resume-1"}
    h.engine.ingest(event)
    assert h.sent() == ["Bot đã quay lại"]
    c = h.me()
    assert not c.paused and c.paused_until is None and c.run is None
    assert h.engine.ingest(event).duplicate
    h.say("hi")
    assert h.sent() == ["bot: "]


def test_a_timed_handoff_shows_when_it_ends_and_ends_by_itself(harness_of):
    h = harness_of(HANDOFF)
    h.engine.ingest(tagflow.postback(h.who, "TIMED"))
    c = h.me()
    assert c.paused and c.paused_until == D0 + 2 * HOUR
    assert c.paused_until.tzinfo == dt.timezone.utc
    assert h.engine.next_timer == D0 + 2 * HOUR
    h.wait(HOUR)
    h.say("còn ai không?")
    assert h.sent() == []
    assert h.wait(HOUR) == 1
    assert h.sent() == ["Hết 2 giờ"]
    assert not h.me().paused


def test_resume_automation_by_contact_id_and_with_a_time(harness_of):
    h = harness_of(HANDOFF)
    cid = h.go().contact_id
    h.engine.ingest(tagflow.resume_automation(cid, at=D0 + HOUR))
    assert h.sent() == ["Bot đã quay lại"]
    assert h.engine.outbox()[-1].created_at == D0 + HOUR
