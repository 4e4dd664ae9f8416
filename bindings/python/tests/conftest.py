"""Shared fixtures for the tagflow Python tests.

Run them against a built package: PYTHONPATH=<build>/python /usr/bin/python3 -m pytest -q
bindings/python/tests (the python.pytest ctest does exactly this).
"""

import datetime as dt
import json
import pathlib

import pytest

import tagflow

REPO = pathlib.Path(__file__).resolve().parents[3]
SCENARIOS = REPO / "tests" / "scenarios"
FIXTURES = REPO / "tests" / "fixtures"

# Scenario times are Asia/Ho_Chi_Minh (UTC+7); D0 is Monday 2026-01-05.
VN = dt.timezone(dt.timedelta(hours=7))

# The rules of tests/test_engine.cpp, as a dict.
SHOP_RULES = {
    "schema": 1,
    "tags": ["Khách mới", "Khách cũ", "Đã mua Áo A", "Đã mua lần 2", "Khách VIP", "Khách hàng", "Hỏi giá"],
    "fields": [{"name": "size", "type": "text"}, {"name": "age", "type": "number"},
               {"name": "subscribed", "type": "bool"}, {"name": "birthday", "type": "date"}],
    "rules": [
        {"name": "welcome", "when": "first_message",
         "then": [{"send": "Chào bạn, Shop rất vui được hỗ trợ bạn!"}, {"add_tag": "Khách mới"}]},
        {"name": "welcome back", "when": "returning_message",
         "then": [{"send": "Chào {{name}}, rất vui khi bạn quay lại!"},
                  {"send": "Bạn đang cần thêm {{last_product}} hay tìm mẫu mới?"},
                  {"remove_tag": "Khách mới"}, {"add_tag": "Khách cũ"}]},
        {"name": "price question", "when": "message_received", "filter": {"contains": "giá"},
         "then": [{"add_tag": "Hỏi giá"}]},
        {"name": "bought A", "when": "order_placed", "filter": {"item": "Áo A"},
         "then": [{"add_tag": "Đã mua Áo A"}]},
        {"name": "second order", "when": "order_placed", "if": "orders == 2",
         "then": [{"add_tag": "Đã mua lần 2"}]},
        {"name": "vip", "when": "order_placed", "if": "orders >= 3 or total_spent >= 5000000",
         "then": [{"add_tag": "Khách VIP"}]},
        {"name": "customer tag", "when": "lifecycle_changed", "filter": {"to": "customer"},
         "then": [{"add_tag": "Khách hàng"}]},
    ],
}


def local(text: str) -> dt.datetime:
    """'2026-01-05T10:00' in Asia/Ho_Chi_Minh as an aware datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=VN)


def scenario_definitions(name: str) -> dict:
    """The definitions embedded in tests/scenarios/<name>."""
    return json.loads((SCENARIOS / name).read_text(encoding="utf-8"))["definitions"]


def texts(engine: tagflow.Engine) -> list:
    return [m.text for m in engine.outbox()]


@pytest.fixture
def shop():
    """An in-memory engine with SHOP_RULES loaded."""
    with tagflow.Engine() as engine:
        assert engine.load_definitions(SHOP_RULES) == 1
        yield engine
