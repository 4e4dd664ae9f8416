"""Module-level helpers and the event builders."""

import datetime as dt

import tagflow
from conftest import SHOP_RULES, local


def test_normalize_phone_and_email():
    for spelling in ("0912 345 678", "(+84) 912-345-678", "0084912345678", "84912345678"):
        assert tagflow.normalize_phone(spelling) == "+84912345678"
    assert tagflow.is_valid_phone("0912345678")
    assert not tagflow.is_valid_phone("abc")
    assert tagflow.normalize_email(" Lan.Nguyen@Example.COM ") == "lan.nguyen@example.com"
    assert tagflow.is_valid_email("a@b.vn")
    assert not tagflow.is_valid_email("a@b")


def test_fold():
    assert tagflow.fold("ĐÃ MUA ÁO A") == "da mua ao a"
    assert tagflow.fold("  Thanh   Toán ") == "thanh toan"


def test_times():
    t = tagflow.parse_time("2026-01-05T10:00:00+07:00")
    assert t == local("2026-01-05T10:00")
    assert t.tzinfo is dt.timezone.utc
    assert tagflow.format_time(t) == "2026-01-05T03:00:00Z"
    assert tagflow.format_time(local("2026-01-05T10:00").replace(microsecond=5000)) == "2026-01-05T03:00:00.005Z"
    assert tagflow.is_valid_time_zone("Asia/Ho_Chi_Minh")
    assert not tagflow.is_valid_time_zone("Mars/Base")


def test_builders_make_event_dicts():
    at = local("2026-01-05T10:00")
    assert tagflow.message("zalo:1", "hi", at=at, key="m1") == {
        "kind": "message_received", "identity": "zalo:1", "at": at, "key": "m1", "text": "hi"}
    assert tagflow.message(7, "hi") == {"kind": "message_received", "contact": 7, "text": "hi"}
    assert tagflow.order("zalo:1", "O-1", 350000, ["Áo A"]) == {
        "kind": "order_placed", "identity": "zalo:1",
        "order": {"id": "O-1", "total": 350000, "currency": "VND", "items": ["Áo A"]}}
    assert tagflow.profile("zalo:1", name="Lan", time_zone="Asia/Bangkok") == {
        "kind": "profile_updated", "identity": "zalo:1", "profile": {"name": "Lan", "timezone": "Asia/Bangkok"}}
    assert tagflow.note("zalo:1", "staff:lan", "x")["author"] == "staff:lan"
    assert tagflow.link_customer("zalo:1", "C-1")["customer_id"] == "C-1"
    assert tagflow.track("zalo:1", "viewed")["name"] == "viewed"
    assert "data" not in tagflow.track("zalo:1", "viewed")
    assert tagflow.add_tag("zalo:1", "A")["kind"] == "tag_added"
    assert tagflow.remove_tag("zalo:1", "A")["kind"] == "tag_removed"
    assert tagflow.postback("zalo:1", "P")["payload"] == "P"
    assert tagflow.form_opened("zalo:1", "f")["form"] == "f"
    assert tagflow.form_submitted("zalo:1", "f", {"a": 1})["data"] == {"a": 1}


def test_every_builder_is_accepted_by_the_engine():
    with tagflow.Engine() as e:
        e.load_definitions(SHOP_RULES)
        events = [
            tagflow.message("zalo:1", "hi"),
            tagflow.postback("zalo:1", "P"),
            tagflow.form_opened("zalo:1", "f"),
            tagflow.form_submitted("zalo:1", "f", {"a": 1}),
            tagflow.order("zalo:1", "O-1", 10, ["Áo A"], currency="USD"),
            tagflow.profile("zalo:1", name="Lan", phone="0912345678", email="lan@example.com",
                            time_zone="Asia/Bangkok", locale="vi-VN", fields={"size": "L"}),
            tagflow.link_customer("zalo:1", "C-1"),
            tagflow.note("zalo:1", "staff:lan", "x"),
            tagflow.track("zalo:1", "viewed", {"sku": "A"}),
            tagflow.add_tag("zalo:1", "Khách VIP"),
            tagflow.remove_tag("zalo:1", "Khách VIP"),
        ]
        results = e.ingest_batch(events)
        assert len(results) == len(events)
        kinds = [r.kind for r in e.event_log() if r.origin == "input"]
        assert kinds == [ev["kind"] for ev in events]
        c = e.find_contact("zalo:1")
        assert (c.time_zone, c.locale, c.lifecycle) == ("Asia/Bangkok", "vi-VN", "customer")


def test_version_and_schema():
    assert tagflow.__version__.count(".") == 2
    assert tagflow.DEFINITIONS_SCHEMA_VERSION == 1


def test_check_definitions_returns_the_document():
    doc = tagflow.check_definitions(SHOP_RULES)
    assert doc["rules"][0]["name"] == "welcome"
