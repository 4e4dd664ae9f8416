"""tagflow's C++ exceptions as Python exceptions: classes, codes and the attributes naming the
offending place (path, field, column)."""

import datetime as dt

import pytest

import tagflow
from conftest import FIXTURES, SHOP_RULES


def test_the_exception_hierarchy():
    for cls in (tagflow.DefinitionError, tagflow.EventError, tagflow.ExpressionError,
                tagflow.StoreError, tagflow.NotFoundError):
        assert issubclass(cls, tagflow.Error)
    assert issubclass(tagflow.Error, Exception)
    assert tagflow.Error.__module__ == "tagflow"
    assert tagflow.EventError.__name__ == "EventError"


def test_definition_error_carries_the_json_path():
    with tagflow.Engine() as e:
        with pytest.raises(tagflow.DefinitionError) as err:
            e.load_definitions(FIXTURES / "bad_definitions.json")
        assert err.value.path == "$.rules[0].then[0].add_tag"
        assert err.value.code == "invalid_definition"
        assert 'tag "VIP" is not declared' in str(err.value)
        assert str(err.value).startswith("$.rules[0].then[0].add_tag: ")
        assert e.definitions_version == 0  # nothing was stored


def test_definition_error_for_wrong_types_and_malformed_json():
    with tagflow.Engine() as e:
        with pytest.raises(tagflow.DefinitionError) as err:
            e.load_definitions({"schema": 1, "tags": [1]})
        assert err.value.path == "$.tags[0]"
        with pytest.raises(tagflow.DefinitionError) as err:
            e.load_definitions('{"schema": 1,')
        assert err.value.path == "$"
        with pytest.raises(tagflow.DefinitionError) as err:  # not JSON-able: refused before C++ sees it
            e.load_definitions({"schema": 1, "tags": {"A", "B"}})
        assert err.value.path == "$.tags"
        with pytest.raises(TypeError):
            e.load_definitions(42)


def test_an_expression_error_in_a_rule_if_is_a_definition_error_ending_in_if():
    doc = dict(SHOP_RULES, rules=[{"name": "vip", "when": "order_placed", "if": "orders >= ",
                                  "then": [{"add_tag": "Khách VIP"}]}])
    with tagflow.Engine() as e:
        with pytest.raises(tagflow.DefinitionError) as err:
            e.load_definitions(doc)
    assert not isinstance(err.value, tagflow.ExpressionError)
    assert err.value.path.endswith(".if")
    assert err.value.path == "$.rules[0].if"
    assert "column" in str(err.value)
    # An unknown tag in a condition is refused too, at the same place.
    doc = dict(SHOP_RULES, rules=[{"name": "x", "when": "order_placed", "if": 'tag("VIP")', "then": []}])
    with pytest.raises(tagflow.DefinitionError) as err:
        tagflow.check_definitions(doc)
    assert err.value.path == "$.rules[0].if"


def test_expression_error_carries_the_column_in_code_points():
    with pytest.raises(tagflow.ExpressionError) as err:
        tagflow.Expression('tag("Khách VIP") and orders > > 1')
    assert err.value.column == 31
    assert err.value.code == "syntax_error"
    with pytest.raises(tagflow.ExpressionError) as err:
        tagflow.Expression("ordres >= 2")
    assert err.value.column == 1
    e = tagflow.Expression('tag("Khách VIP") and not tag("Đã mua Áo A") and field("size") == "M"')
    assert e.referenced_tags == ["Khách VIP", "Đã mua Áo A"]
    assert e.referenced_fields == ["size"]


def refused_field(engine, event):
    with pytest.raises(tagflow.EventError) as err:
        engine.ingest(event)
    assert err.value.code == "invalid_event"
    assert str(err.value).startswith("event." + err.value.field)
    return err.value.field


def test_event_error_names_the_field_and_writes_nothing(shop):
    assert refused_field(shop, tagflow.message("Zalo!:1", "x")) == "identity.channel"
    assert refused_field(shop, tagflow.message("zalo", "x")) == "identity"
    assert refused_field(shop, tagflow.postback("zalo:1", "")) == "payload"
    assert refused_field(shop, tagflow.form_opened("zalo:1", "")) == "form"
    assert refused_field(shop, tagflow.order("zalo:1", "o", -5)) == "order.total"
    assert refused_field(shop, tagflow.order("zalo:1", "o", float("nan"))) == "order.total"
    assert refused_field(shop, tagflow.profile("zalo:1", phone="abc")) == "profile.phone"
    assert refused_field(shop, tagflow.profile("zalo:1", email="not-an-email")) == "profile.email"
    assert refused_field(shop, tagflow.profile("zalo:1", time_zone="Mars/Base")) == "profile.timezone"
    assert refused_field(shop, tagflow.profile("zalo:1", fields={"age": "many"})) == "profile.fields.age"
    assert refused_field(shop, tagflow.profile("zalo:1", fields={"nope": 1})) == "profile.fields.nope"
    assert refused_field(shop, tagflow.message(42, "x")) == "contact"
    assert refused_field(shop, {"kind": "lifecycle_changed", "identity": "zalo:1"}) == "kind"
    assert refused_field(shop, {"kind": "nope", "identity": "zalo:1"}) == "kind"
    assert refused_field(shop, {"identity": "zalo:1"}) == "kind"
    assert refused_field(shop, {"kind": "message_received", "identity": "zalo:1", "colour": "red"}) == "colour"
    assert refused_field(shop, {"kind": "message_received", "identity": "zalo:1", "text": 5}) == "text"
    assert refused_field(shop, tagflow.message("zalo:1", "x", at=dt.datetime(2026, 1, 5, 10))) == "at"
    assert refused_field(shop, tagflow.message("zalo:1", "x", at="yesterday")) == "at"
    assert refused_field(shop, tagflow.track("zalo:1", "t", {"when": object()})) == "data.when"
    assert refused_field(shop, tagflow.order("zalo:1", "o", 10, ["A", 3])) == "order.items[1]"
    assert shop.contacts() == []
    assert shop.event_log() == []
    assert shop.outbox() == []


def test_a_batch_names_the_event_and_writes_nothing(shop):
    with pytest.raises(tagflow.EventError) as err:
        shop.ingest_batch([tagflow.message("zalo:3", "x"), tagflow.postback("zalo:3", "")])
    assert err.value.field == "[1].payload"
    assert str(err.value) == "event.[1].payload: required for a postback"
    with pytest.raises(tagflow.EventError) as err:  # refused while converting from Python
        shop.ingest_batch([tagflow.message("zalo:3", "x"), tagflow.message("zalo:3", "y", at=dt.datetime(2026, 1, 5))])
    assert err.value.field == "[1].at"
    with pytest.raises(tagflow.EventError) as err:  # refused while parsing the event JSON
        shop.ingest_batch([tagflow.message("zalo:3", "x"), {"kind": "message_received", "identity": "zalo"}])
    assert err.value.field == "[1].identity"
    with pytest.raises(TypeError):
        shop.ingest_batch([tagflow.message("zalo:3", "x"), "not an event"])
    assert shop.contacts() == []
    assert shop.event_log() == []


def test_a_non_dict_event_is_a_type_error(shop):
    with pytest.raises(TypeError):
        shop.ingest("message_received zalo:1")
    with pytest.raises(TypeError):
        shop.ingest(tagflow.message(3.5, "x"))


def test_not_found_errors(shop, tmp_path):
    with pytest.raises(tagflow.NotFoundError) as err:
        shop.get_contact(99)
    assert err.value.code == "not_found"
    with pytest.raises(tagflow.NotFoundError):
        shop.contact_json(99)
    with pytest.raises(tagflow.NotFoundError):
        shop.load_definitions(tmp_path / "missing.json")
    assert shop.definitions_version == 1


def test_store_errors(tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 300)
    with pytest.raises(tagflow.StoreError) as err:
        tagflow.Engine(garbage)
    assert err.value.code == "store_failure"
    with pytest.raises(tagflow.StoreError):
        tagflow.Engine(tmp_path / "no" / "such" / "dir.db")


def test_other_errors_are_the_base_class_with_a_code():
    with pytest.raises(tagflow.Error) as err:
        tagflow.normalize_phone("abc")
    assert type(err.value) is tagflow.Error
    assert err.value.code == "invalid_phone"
    with pytest.raises(tagflow.Error) as err:
        tagflow.normalize_email("no-at-sign")
    assert err.value.code == "invalid_email"
    with tagflow.Engine() as e:
        with pytest.raises(tagflow.Error) as err:
            e.find_contact("no-colon")
        assert err.value.code == "invalid_argument"
    with pytest.raises(tagflow.Error) as err:
        tagflow.Engine(max_cascade_depth=0)
    assert err.value.code == "invalid_argument"
    with pytest.raises(tagflow.Error):
        tagflow.Engine(default_time_zone="Mars/Base")
    with pytest.raises(tagflow.Error):
        tagflow.Engine(returning_gap=dt.timedelta(0))
    with pytest.raises(TypeError):
        tagflow.Engine(returning_gap=3600)
    with pytest.raises(tagflow.Error):
        tagflow.Engine(durability="sometimes")
    with pytest.raises(tagflow.Error, match="mmap_bytes"):
        tagflow.Engine(mmap_bytes=-1)


def test_exceptions_raised_from_python_have_the_attributes():
    e = tagflow.EventError("made up")
    assert e.field is None and e.code is None
    assert tagflow.DefinitionError("x").path is None
    assert tagflow.ExpressionError("x").column is None
