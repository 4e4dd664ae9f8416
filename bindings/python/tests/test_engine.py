"""The engine from Python: tests/test_engine.cpp ported, plus what the bindings add."""

import datetime as dt

import pytest

import tagflow
from conftest import SHOP_RULES, local, texts

WELCOME = "Chào bạn, Shop rất vui được hỗ trợ bạn!"


def test_first_message_creates_a_stranger_and_runs_the_first_message_rule(shop):
    r = shop.ingest(tagflow.message("messenger:3001", "Xin chào", at=local("2026-01-05T10:00")))
    assert r.contact_created
    assert not r.duplicate
    assert r.rules_fired == ["welcome"]
    assert r.tags_added == ["Khách mới"]
    assert len(r.messages) == 1
    c = shop.find_contact("messenger:3001")
    assert c is not None
    assert c.id == r.contact_id
    assert c.lifecycle == "stranger"
    assert c.tags == {"Khách mới"}
    assert c.has_tag("Khách mới")
    assert c.conversations == 1
    assert c.returning is False
    assert c.first_seen == local("2026-01-05T10:00")
    assert c.first_seen.tzinfo is not None and c.first_seen.utcoffset() == dt.timedelta(0)
    assert c.last_channel == "messenger"
    assert c.last_message == c.last_inbound == local("2026-01-05T10:00")
    assert c.tag_times["Khách mới"] == local("2026-01-05T10:00")
    assert texts(shop) == [WELCOME]
    m = shop.outbox()[0]
    assert m.to == "messenger:3001" and m.channel == "messenger"
    assert m.contact_id == c.id
    assert m.cause == "rule:welcome"
    assert m.status == "pending"
    assert m.purpose == "reply"
    assert m.id == r.messages[0]
    assert m.created_at == local("2026-01-05T10:00")


def test_unknown_identity_is_none(shop):
    assert shop.find_contact("zalo:nobody") is None


def test_returning_contact_is_greeted_by_name_and_last_product(shop):
    who = "messenger:3001"
    shop.ingest(tagflow.message(who, "Xin chào", at=local("2026-01-05T10:00")))
    shop.ingest(tagflow.profile(who, name="Minh", at=local("2026-01-05T10:01")))
    shop.ingest(tagflow.order(who, "O-1", 350000, ["Áo A"], at=local("2026-01-05T11:00")))
    same = shop.ingest(tagflow.message(who, "Cảm ơn shop", at=local("2026-01-05T12:00")))
    assert same.rules_fired == []  # same conversation: no greeting at all
    back = shop.ingest(tagflow.message(who, "Shop ơi", at=local("2026-01-08T10:00")))
    assert back.rules_fired == ["welcome back"]
    assert back.tags_removed == ["Khách mới"]
    assert texts(shop) == [WELCOME, "Chào Minh, rất vui khi bạn quay lại!", "Bạn đang cần thêm Áo A hay tìm mẫu mới?"]
    c = shop.find_contact(who)
    assert c.has_tag("Khách cũ") and not c.has_tag("Khách mới")
    assert c.returning is True
    assert c.conversations == 2
    assert c.last_product == "Áo A"
    assert c.name == "Minh"


def test_returning_gap_is_configurable():
    with tagflow.Engine(returning_gap=dt.timedelta(hours=1)) as e:
        assert e.returning_gap == dt.timedelta(hours=1)
        e.load_definitions(SHOP_RULES)
        e.ingest(tagflow.message("zalo:1", "a", at=local("2026-01-05T10:00")))
        r = e.ingest(tagflow.message("zalo:1", "b", at=local("2026-01-05T11:30")))
        assert r.rules_fired == ["welcome back"]
    with tagflow.Engine() as e:  # the default gap is a day
        assert e.returning_gap == dt.timedelta(hours=24)
        e.load_definitions(SHOP_RULES)
        e.ingest(tagflow.message("zalo:1", "a", at=local("2026-01-05T10:00")))
        r = e.ingest(tagflow.message("zalo:1", "b", at=local("2026-01-05T11:30")))
        assert r.rules_fired == []


def test_contact_known_only_from_an_order_is_returning_on_first_message(shop):
    shop.ingest(tagflow.order("zalo:77", "O-9", 100000, ["Quần B"], at=local("2026-01-05T09:00")))
    r = shop.ingest(tagflow.message("zalo:77", "hi", at=local("2026-01-05T09:30")))
    assert r.rules_fired == ["welcome back"]


def test_orders_drive_purchase_tags_second_order_and_vip(shop):
    who = "web:s5"
    r1 = shop.ingest(tagflow.order(who, "1", 300000, ["ÁO A"], at=local("2026-01-05T09:00")))
    assert r1.tags_added == ["Đã mua Áo A"]
    r2 = shop.ingest(tagflow.order(who, "2", 300000, ["Quần"], at=local("2026-01-06T09:00")))
    assert r2.tags_added == ["Đã mua lần 2"]
    r3 = shop.ingest(tagflow.order(who, "3", 100, ["Nón"], at=local("2026-01-07T09:00")))
    assert r3.tags_added == ["Khách VIP"]
    c = shop.find_contact(who)
    assert c.orders == 3
    assert c.total_spent == pytest.approx(600100)
    assert c.last_order == local("2026-01-07T09:00")
    r4 = shop.ingest(tagflow.order("web:rich", "4", 5000000, ["Đồng hồ"], at=local("2026-01-07T09:00")))
    assert r4.tags_added == ["Khách VIP"]


def test_message_filters_ignore_case_and_diacritics(shop):
    r = shop.ingest(tagflow.message("zalo:5", "Cho mình hỏi GIA cái áo", at=local("2026-01-05T10:00")))
    assert "Hỏi giá" in r.tags_added


def test_lifecycle_moves_stranger_lead_customer_and_never_back(shop):
    shop.ingest(tagflow.message("web:v1", "Xin chào", at=local("2026-01-05T10:00")))
    assert shop.find_contact("web:v1").lifecycle == "stranger"
    lead = shop.ingest(tagflow.profile("web:v1", name="Lan", email="Lan@Example.com"))
    assert lead.lifecycle_now == "lead"
    assert shop.find_contact("web:v1").email == "lan@example.com"
    customer = shop.ingest(tagflow.link_customer("web:v1", "C-889"))
    assert customer.lifecycle_now == "customer"
    assert customer.tags_added == ["Khách hàng"]
    later = shop.ingest(tagflow.profile("web:v1", name="Lan Nguyễn"))
    assert later.lifecycle_now is None
    c = shop.find_contact("web:v1")
    assert c.lifecycle == "customer"
    assert c.customer_id == "C-889"
    assert c.name == "Lan Nguyễn"
    changes = [r.data for r in shop.event_log() if r.kind == "lifecycle_changed"]
    assert {"from": "lead", "to": "customer"} in changes
    assert {"from": "stranger", "to": "lead"} in changes


def test_email_alone_keeps_a_stranger_and_a_name_makes_a_lead(shop):
    shop.ingest(tagflow.profile("web:v2", email="v2@example.com"))
    assert shop.find_contact("web:v2").lifecycle == "stranger"
    shop.ingest(tagflow.profile("web:v2", name="Hùng"))
    assert shop.find_contact("web:v2").lifecycle == "lead"


def test_same_phone_on_another_channel_is_one_contact(shop):
    shop.ingest(tagflow.profile("web:v3", name="Mai", phone="0912345678"))
    v3 = shop.find_contact("web:v3")
    assert v3.lifecycle == "lead"
    assert v3.phone == "+84912345678"
    r = shop.ingest(tagflow.message("zalo:555", "Chào shop", key="z-1"))
    assert r.contact_created  # a new identity without a phone: separate for now...
    assert len(shop.contacts()) == 2
    merged = shop.ingest(tagflow.profile("zalo:555", phone="+84 912 345 678"))
    assert len(merged.merged) == 1  # ...until the phone arrives, in any spelling
    (c,) = shop.contacts()
    assert c.id == v3.id == merged.contact_id
    assert c.has_identity("zalo:555") and c.has_identity("web:v3")
    assert c.identities == ["web:v3", "zalo:555"]
    assert c.has_tag("Khách mới")
    assert c.name == "Mai"
    assert any(r.kind == "contact_merged" for r in shop.event_log())
    direct = shop.ingest(tagflow.profile("messenger:9", phone="84912345678"))
    assert not direct.contact_created
    assert direct.contact_id == c.id
    assert len(shop.contacts()) == 1
    assert shop.get_contact(c.id).identities == ["messenger:9", "web:v3", "zalo:555"]


def test_phone_carried_by_a_message_merges_at_once(shop):
    shop.ingest(tagflow.profile("web:v3", name="Mai", phone="0912345678"))
    r = shop.ingest(tagflow.message("zalo:8801", "Chào shop", profile={"phone": "+84 912 345 678"}))
    assert not r.contact_created
    assert shop.find_contact("zalo:8801").identities == ["web:v3", "zalo:8801"]


def test_notes_and_custom_fields_keep_author_time_and_type(shop):
    shop.ingest(tagflow.note("web:v1", "staff:lan", "Thích màu xanh", at=local("2026-01-05T10:00")))
    shop.ingest(tagflow.profile("web:v1", fields={"size": "M", "age": 31, "subscribed": True,
                                                  "birthday": dt.date(1995, 3, 1)}))
    c = shop.find_contact("web:v1")
    (n,) = c.notes
    assert (n.author, n.text, n.at) == ("staff:lan", "Thích màu xanh", local("2026-01-05T10:00"))
    assert c.fields == {"size": "M", "age": 31.0, "subscribed": True, "birthday": "1995-03-01"}
    assert isinstance(c.fields["age"], float)
    assert c.field_types == {"size": "text", "age": "number", "subscribed": "bool", "birthday": "date"}
    assert c.field("size") == "M" and c.field("nothing") is None
    doc = shop.contact_json(c.id)
    assert doc["notes"][0]["text"] == "Thích màu xanh"
    assert doc["fields"]["size"] == {"type": "text", "value": "M"}
    assert doc["fields"]["age"] == {"type": "number", "value": 31}
    shop.ingest(tagflow.profile("web:v1", fields={"age": 31.5}))
    assert shop.find_contact("web:v1").fields["age"] == 31.5


def test_unknown_profile_attributes_are_none(shop):
    shop.ingest(tagflow.message("zalo:1", "hi"))
    c = shop.find_contact("zalo:1")
    assert (c.name, c.phone, c.email, c.time_zone, c.locale, c.customer_id) == (None,) * 6
    assert c.last_order is None and c.last_product is None
    assert c.notes == [] and c.fields == {}


def test_repeated_idempotency_key_is_a_no_op_returning_the_first_outcome(shop):
    msg = tagflow.message("zalo:1", "Xin chào", key="zalo-msg-1", at=local("2026-01-05T10:00"))
    first = shop.ingest(msg)
    log_size = len(shop.event_log())
    again = shop.ingest(msg)
    assert again.duplicate and not first.duplicate
    assert again != first
    assert (again.event_id, again.contact_id, again.rules_fired, again.tags_added, again.messages) == (
        first.event_id, first.contact_id, first.rules_fired, first.tags_added, first.messages)
    assert len(shop.event_log()) == log_size
    assert len(shop.outbox()) == 1
    # The key alone decides: another text under the same key is still the first event.
    assert shop.ingest(tagflow.message("zalo:1", "khác", key="zalo-msg-1")).duplicate
    assert len(shop.outbox()) == 1


def test_batch_commits_together_and_reports_duplicates_within_it(shop):
    results = shop.ingest_batch([
        tagflow.message("zalo:1", "a", at=local("2026-01-05T10:00")),
        tagflow.message("zalo:2", "b", at=local("2026-01-05T10:01")),
        tagflow.message("zalo:1", "c", key="k", at=local("2026-01-05T10:02")),
        tagflow.message("zalo:1", "c", key="k", at=local("2026-01-05T10:02")),
    ])
    assert len(results) == 4
    assert results[0].contact_id == results[2].contact_id
    assert results[3].duplicate and not results[2].duplicate
    assert len(shop.contacts()) == 2
    assert shop.ingest_batch([]) == []
    # Any iterable works.
    assert len(shop.ingest_batch(tagflow.message(f"zalo:{i}", "x") for i in range(3, 6))) == 3


def test_events_may_address_a_contact_by_id(shop):
    r = shop.ingest(tagflow.message("zalo:1", "hi"))
    shop.ingest(tagflow.add_tag(r.contact_id, "Khách VIP"))
    assert shop.get_contact(r.contact_id).has_tag("Khách VIP")
    shop.ingest(tagflow.remove_tag(r.contact_id, "Khách VIP"))
    assert not shop.get_contact(r.contact_id).has_tag("Khách VIP")


def test_plain_dicts_and_iso_strings_are_events(shop):
    r = shop.ingest({"kind": "message_received", "identity": "zalo:1", "text": "hi",
                     "at": "2026-01-05T10:00:00+07:00", "key": "m1", "order": None})
    assert r.rules_fired == ["welcome"]
    assert shop.find_contact("zalo:1").first_seen == local("2026-01-05T10:00")
    assert shop.input_events() == [{"kind": "message_received", "identity": "zalo:1",
                                    "at": "2026-01-05T03:00:00Z", "key": "m1", "text": "hi"}]


def test_other_event_kinds_are_logged(shop):
    shop.ingest(tagflow.postback("zalo:1", "BUY_A", key="p1"))
    shop.ingest(tagflow.form_opened("zalo:1", "signup"))
    shop.ingest(tagflow.form_submitted("zalo:1", "signup", {"size": "M", "qty": 2, "price": 1.5, "gift": False}))
    shop.ingest(tagflow.track("zalo:1", "viewed_product", {"sku": "A-1"}))
    kinds = [r.kind for r in shop.event_log() if r.origin == "input"]
    assert kinds == ["postback", "form_opened", "form_submitted", "track"]
    submitted = shop.input_events()[2]
    assert submitted["data"] == {"size": "M", "qty": "2", "price": "1.5", "gift": "false"}
    postback = shop.event_log()[0]
    assert postback.key == "p1"
    assert postback.data["payload"] == "BUY_A"
    assert postback.outcome["contact"] == 1


def test_cascades_stop_at_the_depth_limit():
    with tagflow.Engine(max_cascade_depth=3) as e:
        e.load_definitions({"schema": 1, "tags": ["a", "b"], "rules": [
            {"name": "a->b", "when": "tag_added", "filter": {"tag": "a"},
             "then": [{"remove_tag": "a"}, {"add_tag": "b"}]},
            {"name": "b->a", "when": "tag_added", "filter": {"tag": "b"},
             "then": [{"remove_tag": "b"}, {"add_tag": "a"}]}]})
        r = e.ingest(tagflow.add_tag("zalo:1", "a"))
        assert len(r.rules_fired) == 4
        assert any(row.kind == "cascade_limit" for row in e.event_log())


def test_a_rule_marked_once_runs_once_per_contact():
    with tagflow.Engine() as e:
        e.load_definitions({"schema": 1, "rules": [
            {"name": "hello", "when": "message_received", "once": True, "then": [{"send": "Hello {{name}}"}]}]})
        e.ingest(tagflow.message("zalo:1", "a"))
        e.ingest(tagflow.message("zalo:1", "b"))
        e.ingest(tagflow.message("zalo:2", "c"))
        assert len(e.outbox()) == 2
        assert e.find_contact("zalo:1").fired_rules == {"hello"}


def test_outbox_keys_and_paging(shop):
    shop.ingest(tagflow.message("messenger:1", "hi", key="m1", at=local("2026-01-05T10:00")))
    shop.ingest(tagflow.message("messenger:1", "again", key="m2", at=local("2026-01-09T10:00")))
    rows = shop.outbox()
    # Keys derive from the input key, the rule and the ordinal of the send (the exact prefix is
    # the C++ library's business).
    assert len(rows) == 3 and len({m.key for m in rows}) == 3
    assert rows[0].key.endswith("m1/welcome/0")
    assert rows[1].key.endswith("m2/welcome back/0")
    assert rows[2].key.endswith("m2/welcome back/1")
    assert rows[1].cause == "rule:welcome back"
    assert shop.outbox(after_id=rows[0].id) == rows[1:]
    assert shop.outbox(after_id=rows[-1].id) == []
    log = shop.event_log()
    assert shop.event_log(after_id=log[0].id) == log[1:]


def test_replaying_input_events_gives_an_identical_export(shop, tmp_path):
    who = "messenger:3001"
    shop.ingest(tagflow.message(who, "Xin chào", at=local("2026-01-05T10:00")))
    shop.ingest(tagflow.profile(who, name="Minh", phone="0912 345 678", at=local("2026-01-05T10:01")))
    shop.ingest(tagflow.order(who, "O-1", 350000, ["Áo A"], at=local("2026-01-05T11:00")))
    shop.ingest(tagflow.message("zalo:1", "giá bao nhiêu", key="z1", at=local("2026-01-06T10:00")))
    shop.ingest(tagflow.profile("zalo:1", phone="+84912345678", at=local("2026-01-06T10:05")))
    shop.ingest(tagflow.message(who, "Shop ơi", at=local("2026-01-08T10:00")))
    original = shop.export_json()
    with tagflow.Engine(tmp_path / "replay.db") as replay:
        replay.load_definitions(SHOP_RULES)
        replay.ingest_batch(shop.input_events())
        assert replay.export_json() == original


def test_definitions_are_versioned_and_readable(shop):
    assert shop.definitions_version == 1
    assert shop.definitions == tagflow.check_definitions(SHOP_RULES)
    assert shop.definitions["tags"][0] == "Khách mới"
    assert shop.load_definitions(SHOP_RULES) == 1  # identical: no new version
    changed = dict(SHOP_RULES, rules=[])
    assert shop.load_definitions(changed) == 2
    assert shop.definitions["rules"] == []
    r = shop.ingest(tagflow.message("zalo:1", "hi"))
    assert r.rules_fired == []
    assert shop.event_log()[0].definitions_version == 2


def test_definitions_load_from_json_text_and_paths(tmp_path):
    import json
    doc = {"schema": 1, "tags": ["A"]}
    path = tmp_path / "defs.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with tagflow.Engine() as e:
        assert e.load_definitions(json.dumps(doc)) == 1
        assert e.load_definitions(path) == 1  # the same document
        assert e.load_definitions(str(path)) == 1
        assert e.load_definitions('\n  {"schema": 1, "tags": ["B"]}') == 2
        assert e.definitions["tags"] == ["B"]


def test_reprs_are_readable(shop):
    r = shop.ingest(tagflow.message("zalo:1", "hi"))
    assert "rules_fired=['welcome']" in repr(r)
    assert repr(shop.find_contact("zalo:1")) == "<Contact 1 ['zalo:1'] stranger tags={'Khách mới'}>"
    assert "zalo:1" in repr(shop.outbox()[0])
    assert repr(shop) == "<tagflow.Engine memory>"


def test_contacts_and_segment_members_come_in_pages(tmp_path):
    with tagflow.Engine(str(tmp_path / "shop.db"), mmap_bytes=1 << 26) as e:
        e.load_definitions({"schema": 1, "tags": ["VIP"], "segments": [{"name": "vip", "if": 'tag("VIP")'}]})
        for n in range(1, 6):
            e.ingest(tagflow.message(f"zalo:{n}", "hi", at=local("2026-01-05T10:00")))
            if n % 2:
                e.ingest(tagflow.add_tag(f"zalo:{n}", "VIP", at=local("2026-01-05T10:01")))
        assert [c.id for c in e.contacts()] == [1, 2, 3, 4, 5]
        assert [c.id for c in e.contacts(limit=2)] == [1, 2]
        assert [c.id for c in e.contacts(after_id=2, limit=2)] == [3, 4]
        assert [c.id for c in e.contacts(after_id=3)] == [4, 5]
        assert e.segment_members("vip") == [1, 3, 5]
        assert e.segment_members("vip", after_id=1, limit=1) == [3]
        assert e.segment_members("nobody") == []
