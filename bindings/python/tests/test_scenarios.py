"""The acceptance scenarios (tests/scenarios/*.json) from Python: run through tagflow.simulate,
and replayed step by step with the Python API (S5 first-time vs returning, S2 contact types)."""

import json

import pytest

import tagflow
from conftest import SCENARIOS, local, scenario_definitions

SCENARIO_FILES = sorted(SCENARIOS.glob("*.json"))


def test_the_scenario_directory_is_found():
    names = [p.name for p in SCENARIO_FILES]
    assert "s2_contact_types.json" in names
    assert "s5_first_time_returning.json" in names


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_every_scenario_file_passes(path):
    result = tagflow.simulate(path)
    assert result.passed, "\n".join(result.failures) + "\n" + result.transcript
    assert bool(result)
    assert result.failures == []
    assert result.checks > 0
    assert result.steps == len(json.loads(path.read_text(encoding="utf-8"))["steps"])


def test_scenarios_accept_str_paths_dicts_and_json_text():
    path = SCENARIOS / "s5_first_time_returning.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    by_path = tagflow.simulate(str(path))
    by_dict = tagflow.simulate(doc)
    by_text = tagflow.simulate(path.read_text(encoding="utf-8"))
    assert by_path.passed and by_dict.passed and by_text.passed
    assert by_path.transcript == by_dict.transcript == by_text.transcript
    assert by_dict.name == "S5 First-time vs returning"
    assert "Chào Minh, rất vui khi bạn quay lại!" in by_dict.transcript


def test_a_scenario_runs_the_same_on_a_sqlite_file(tmp_path):
    path = SCENARIOS / "s5_first_time_returning.json"
    result = tagflow.simulate(path, db=tmp_path / "s5.db")
    assert result.passed, result.transcript
    assert result.transcript == tagflow.simulate(path).transcript
    # The run left its state in the file.
    with tagflow.Engine(tmp_path / "s5.db") as e:
        assert e.find_contact("messenger:3001").has_tag("Khách VIP")


def test_definitions_file_is_resolved_against_base_dir(tmp_path):
    (tmp_path / "defs.json").write_text(json.dumps(
        {"schema": 1, "tags": ["A"], "rules": [{"name": "r", "when": "message_received", "then": [{"add_tag": "A"}]}]}),
        encoding="utf-8")
    scenario = {"name": "base", "definitions_file": "defs.json", "steps": [
        {"at": "D0 10:00", "event": {"kind": "message_received", "identity": "zalo:1", "text": "x"}},
        {"expect": {"contact": "zalo:1", "tags": ["A"]}}]}
    assert tagflow.simulate(scenario, base_dir=tmp_path).passed
    (tmp_path / "scenario.json").write_text(json.dumps(scenario), encoding="utf-8")
    assert tagflow.simulate(tmp_path / "scenario.json").passed  # a file's own directory is its base
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "defs.json").write_text(json.dumps({"schema": 1, "tags": ["A"]}), encoding="utf-8")
    assert not tagflow.simulate(tmp_path / "scenario.json", base_dir=other).passed  # no rule adds A there


def wrap(steps):
    return {"name": "t", "definitions": {"schema": 1, "tags": ["A"], "rules": [
        {"name": "r", "when": "message_received", "then": [{"add_tag": "A"}, {"send": "ok"}]}]}, "steps": steps}


def test_failed_expectations_are_reported_not_raised():
    result = tagflow.simulate(wrap([
        {"at": "D0 10:00", "event": {"kind": "message_received", "identity": "zalo:1", "text": "hi"}},
        {"expect": {"contact": "zalo:1", "tags": ["B"], "sent": [{"to": "zalo:1", "text": "not ok"}]}},
        {"expect": {"contact": "zalo:2"}}]))
    assert not result.passed and not result
    assert len(result.failures) == 3
    assert result.failures[0].startswith("$.steps[1].expect.sent[0].text:")
    assert result.failures[1].startswith("$.steps[1].expect.tags:")
    assert result.failures[2].startswith("$.steps[2].expect.contact:")
    assert "FAILED" in result.transcript


def test_a_malformed_scenario_raises_definition_error_with_the_path():
    with pytest.raises(tagflow.DefinitionError) as e:
        tagflow.simulate(wrap([{"at": "tomorrow"}]))
    assert e.value.path == "$.steps[0].at"
    with pytest.raises(tagflow.DefinitionError) as e:
        tagflow.simulate(wrap([{"expect": {"colour": "red"}}]))
    assert e.value.path == "$.steps[0].expect.colour"
    with pytest.raises(tagflow.DefinitionError) as e:
        tagflow.simulate('{"steps": []')
    assert e.value.path == "$"
    with pytest.raises(tagflow.NotFoundError):
        tagflow.simulate(SCENARIOS / "no_such_scenario.json")


# --- S5 with the Python API -------------------------------------------------------------------

def test_s5_first_time_and_returning_contacts_from_python():
    with tagflow.Engine() as shop:
        shop.load_definitions(scenario_definitions("s5_first_time_returning.json"))
        who = "messenger:3001"
        seen = 0

        def sent():
            nonlocal seen
            rows = shop.outbox(after_id=seen)
            if rows:
                seen = rows[-1].id
            return [(m.to, m.text) for m in rows]

        shop.ingest(tagflow.message(who, "Shop ơi", key="mid.1", at=local("2026-01-05T10:00")))
        c = shop.find_contact(who)
        assert c.tags == {"Khách mới"}
        assert (c.conversations, c.returning) == (1, False)
        assert sent() == [(who, "Chào bạn, Shop rất vui được hỗ trợ bạn!"),
                          (who, "Shop chuyên áo thun và quần jean, giao hàng toàn quốc. Bạn đang tìm mẫu nào ạ?")]

        # The platform retries the webhook: nothing happens twice.
        assert shop.ingest(tagflow.message(who, "Shop ơi", key="mid.1", at=local("2026-01-05T10:00"))).duplicate
        assert sent() == []

        shop.ingest(tagflow.profile(who, name="Minh", at=local("2026-01-05T10:05")))
        shop.ingest(tagflow.order(who, "SO-1", 350000, ["Áo A"], at=local("2026-01-05T11:00")))
        c = shop.find_contact(who)
        assert c.has_tag("Đã mua Áo A") and not c.has_tag("Đã mua lần 2")

        shop.ingest(tagflow.message(who, "Cảm ơn shop", at=local("2026-01-05T15:00")))
        assert sent() == []  # later the same day: same conversation, no greeting

        shop.ingest(tagflow.message(who, "Chào shop", at=local("2026-01-08T10:00")))
        c = shop.find_contact(who)
        assert c.has_tag("Khách cũ") and not c.has_tag("Khách mới")
        assert (c.conversations, c.returning) == (2, True)
        assert sent() == [(who, "Chào Minh, rất vui khi bạn quay lại!"),
                          (who, "Bạn đang cần thêm Áo A hay tìm mẫu mới?")]

        shop.ingest(tagflow.order(who, "SO-2", 400000, ["Quần B"], at=local("2026-01-08T11:00")))
        c = shop.find_contact(who)
        assert c.has_tag("Đã mua lần 2") and not c.has_tag("Khách VIP")
        shop.ingest(tagflow.order(who, "SO-3", 200000, ["Nón"], at=local("2026-01-09T11:00")))
        c = shop.find_contact(who)
        assert c.has_tag("Khách VIP")
        assert (c.orders, c.total_spent) == (3, 950000)

        # One big order makes a VIP at once; a prior order makes the first message a return.
        shop.ingest(tagflow.order("zalo:4040", "SO-4", 5200000, ["Đồng hồ"], at=local("2026-01-10T09:00")))
        assert shop.find_contact("zalo:4040").tags == {"Khách VIP"}
        shop.ingest(tagflow.message("zalo:4040", "Alo", at=local("2026-01-10T09:30")))
        assert shop.find_contact("zalo:4040").has_tag("Khách cũ")
        assert sent() == [("zalo:4040", "Chào bạn, rất vui khi bạn quay lại!"),
                          ("zalo:4040", "Bạn đang cần thêm Đồng hồ hay tìm mẫu mới?")]


# --- S2 with the Python API -------------------------------------------------------------------

def test_s2_contact_types_and_details_from_python():
    with tagflow.Engine() as shop:
        shop.load_definitions(scenario_definitions("s2_contact_types.json"))
        shop.ingest(tagflow.message("web:v1", "Xin chào", key="web-1", at=local("2026-01-05T09:00")))
        v1 = shop.find_contact("web:v1")
        assert (v1.lifecycle, v1.tags) == ("stranger", set())

        shop.ingest(tagflow.profile("web:v1", name="Lan", email="lan@example.com", at=local("2026-01-05T09:01")))
        v1 = shop.find_contact("web:v1")
        assert (v1.lifecycle, v1.name, v1.email) == ("lead", "Lan", "lan@example.com")

        shop.ingest(tagflow.profile("web:v2", email="v2@example.com", at=local("2026-01-05T09:10")))
        assert shop.find_contact("web:v2").lifecycle == "stranger"
        shop.ingest(tagflow.profile("web:v2", name="Hùng", at=local("2026-01-05T09:12")))
        assert shop.find_contact("web:v2").lifecycle == "lead"

        shop.ingest(tagflow.profile("web:v3", name="Mai", phone="0912345678", at=local("2026-01-05T09:20")))
        v3 = shop.find_contact("web:v3")
        assert (v3.lifecycle, v3.phone) == ("lead", "+84912345678")

        shop.ingest(tagflow.link_customer("web:v1", "C-889", at=local("2026-01-05T10:00")))
        v1 = shop.find_contact("web:v1")
        assert (v1.lifecycle, v1.tags, v1.customer_id) == ("customer", {"Khách hàng"}, "C-889")

        shop.ingest(tagflow.note("web:v1", "staff:thu", "Thích màu xanh", at=local("2026-01-05T10:05")))
        shop.ingest(tagflow.profile("web:v1", fields={"size": "M"}, at=local("2026-01-05T10:06")))
        v1 = shop.find_contact("web:v1")
        assert [n.text for n in v1.notes] == ["Thích màu xanh"]
        assert v1.notes[0].author == "staff:thu"
        assert v1.fields == {"size": "M"}

        # An invalid phone is refused and changes nothing.
        log_size = len(shop.event_log())
        with pytest.raises(tagflow.EventError) as refused:
            shop.ingest(tagflow.profile("web:v2", phone="abc", at=local("2026-01-05T10:07")))
        assert refused.value.field == "profile.phone"
        assert shop.find_contact("web:v2").phone is None
        assert len(shop.event_log()) == log_size

        # The same person writes on Zalo and shares the phone in another spelling.
        shop.ingest(tagflow.message("zalo:8801", "Chào shop", profile={"phone": "+84 912 345 678"},
                                    at=local("2026-01-06T08:00")))
        z = shop.find_contact("zalo:8801")
        assert z.identities == ["web:v3", "zalo:8801"]
        assert z.name == "Mai"
        assert shop.find_contact("web:v3").identities == ["web:v3", "zalo:8801"]
        assert len(shop.contacts()) == 3
        assert shop.outbox() == []
