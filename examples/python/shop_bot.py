#!/usr/bin/env python3
"""A small Vietnamese clothes shop bot on tagflow, from Python.

It replays a few days of chat on an embedded SQLite file with a virtual clock: a first-time
visitor is welcomed, asks for a price, leaves a phone number on another channel (the two
identities become one contact), orders, comes back days later to be greeted by name and last
product, and presses a button whose flow asks the shop's CRM for loyalty points (a request block,
answered here by a Python HttpClient) and reminds an hour later (a timer, fired by advance_to).
The messages the engine decides go out through a Dispatcher and small Python channel adapters that
print them (the first Messenger send meets a busy platform and is retried; Messenger's 24-hour
window policy is checked again at dispatch), and a read receipt comes back as an event. The end
reopens the file to show the state survived.

    PYTHONPATH=<build>/python /usr/bin/python3 examples/python/shop_bot.py [shop.db]

Without an argument the database goes to a temporary directory. Exits 0 when everything the
shop expects happened.
"""

import datetime as dt
import json
import pathlib
import sys
import tempfile

import tagflow

DEFINITIONS = {
    "schema": 1,
    "channels": {"messenger": {"policy": "messenger"}},
    "tags": ["Khách mới", "Khách cũ", "Hỏi giá", "Đã mua Áo A", "Khách VIP"],
    "fields": [{"name": "size", "type": "text"}, {"name": "points", "type": "number"}],
    "rules": [
        {"name": "welcome", "when": "first_message",
         "then": [{"send": "Chào bạn, Shop rất vui được hỗ trợ bạn!"}, {"add_tag": "Khách mới"}]},
        {"name": "welcome back", "when": "returning_message",
         "then": [{"send": "Chào {{#name}}{{name}}{{/name}}{{^name}}bạn{{/name}}, rất vui khi bạn quay lại!"},
                  {"send": "Bạn đang cần thêm {{last_product}} hay tìm mẫu mới?"},
                  {"remove_tag": "Khách mới"}, {"add_tag": "Khách cũ"}]},
        {"name": "price", "when": "message_received", "filter": {"contains": "giá"},
         "then": [{"add_tag": "Hỏi giá"}, {"send": "Dạ, áo A giá 350.000đ ạ. Bạn mặc size nào ạ?"}]},
        {"name": "bought A", "when": "order_placed", "filter": {"item": "Áo A"},
         "then": [{"add_tag": "Đã mua Áo A"}, {"send": "Cảm ơn bạn đã đặt {{last_product}}!"}]},
        {"name": "vip", "when": "order_placed", "if": "orders >= 3 or total_spent >= 5000000",
         "then": [{"add_tag": "Khách VIP"}, {"add_note": "VIP sau {{orders}} đơn"}]},
    ],
    "flows": [
        {"name": "points", "triggers": [{"postback": "POINTS"}], "blocks": [
            {"id": "lookup", "kind": "request", "url": "http://crm.example/points/{{phone}}", "timeout": "5s",
             "map": {"points": "/points"}, "next": "tell", "on_failure": "sorry"},
            {"id": "tell", "kind": "send", "text": "Bạn đang có {{points}} điểm thưởng.", "next": "later"},
            {"id": "later", "kind": "wait", "delay": "1h", "next": "remind"},
            {"id": "remind", "kind": "send", "text": "Điểm thưởng sẽ hết hạn cuối tháng, bạn nhớ dùng nhé!"},
            {"id": "sorry", "kind": "send", "text": "Dạ shop chưa tra được điểm, bạn chờ chút nhé."}]},
    ],
}

VN = dt.timezone(dt.timedelta(hours=7))
START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=VN)  # D0: Monday 2026-01-05, 09:00 in Hà Nội


class FakeCrm(tagflow.HttpClient):
    """The shop's CRM, in process: answers GET /points/<phone>. A real one would use an HTTP library
    (or tagflow.make_http_client() for plain http://)."""

    POINTS = {"+84912345678": 120}

    def send(self, request: tagflow.HttpRequest) -> tagflow.HttpResponse:
        print(f"{'':24}crm <- {request.method} {request.url}")
        phone = request.url.rsplit("/", 1)[-1]
        if phone not in self.POINTS:
            return tagflow.HttpResponse(404, '{"error": "unknown customer"}')
        return tagflow.HttpResponse(200, json.dumps({"points": self.POINTS[phone]}))


class ConsoleChannel(tagflow.Channel):
    """A channel adapter that delivers by printing. A real one calls the platform's API and maps the
    answer to a SendResult: ok with the platform's message id, or a failure the dispatcher retries
    (Outcome.retry), records (failed) or treats as the platform's policy refusal (blocked)."""

    def __init__(self, name: str, busy: int = 0):
        super().__init__(name=name, capabilities=tagflow.ChannelCapabilities(max_text=640, max_quick_replies=13))
        self.busy = busy  # how many first attempts the platform turns away
        self.sent = []  # outbox ids, in the order they went out

    def send(self, message: tagflow.OutboundMessage, recipient: tagflow.Contact) -> tagflow.SendResult:
        if self.busy:
            self.busy -= 1
            print(f"{'':24}{self.name} is busy; message {message.id} will be retried")
            return tagflow.SendResult.fail(tagflow.Outcome.retry, "-32", "rate limited")
        # degrade() shapes the message for this channel: parts that fit, buttons as text if need be.
        for part in tagflow.degrade(message, self.capabilities).parts:
            retry = f" (attempt {message.attempts + 1})" if message.attempts else ""
            print(f"{'':24}shop -> {message.to}: {part}{retry}")
        self.sent.append(message.id)
        return tagflow.SendResult.ok(f"{self.name}-{message.id}")


class Bot:
    """Feeds events to the engine, delivers what it decided, and prints a transcript."""

    def __init__(self, engine: tagflow.Engine, clock: tagflow.VirtualClock):
        self.engine = engine
        self.clock = clock
        # sleep=False: channel rate limits cost no real time in a replay on a virtual clock.
        self.dispatcher = tagflow.Dispatcher(engine, jitter_seed=1, sleep=False)
        self.channels = {name: ConsoleChannel(name, busy=1 if name == "messenger" else 0)
                         for name in ("messenger", "zalo")}
        for channel in self.channels.values():
            self.dispatcher.add_channel(channel)

    def stamp(self) -> str:
        local = self.clock.now().astimezone(VN)
        return f"D{(local.date() - START.date()).days} {local:%H:%M}"

    def wait(self, **delta) -> None:
        """Moves the clock, fires the flow timers that came due meanwhile and delivers what is due."""
        now = self.clock.advance(dt.timedelta(**delta))
        fired = self.engine.advance_to(now)
        due = self.dispatcher.next_due()  # a retry, or a message held by a cap or policy
        if fired or (due and due <= now):
            print(f"{self.stamp()}  ({'timer' if fired else 'retry'})")
            self.deliver()

    def deliver(self) -> None:
        """What a runtime's dispatcher does: send every due outbox row through its channel."""
        report = self.dispatcher.dispatch_due()
        if report.blocked:
            print(f"{'':24}({report.blocked} message(s) blocked by channel policy)")

    def perform_requests(self, client: tagflow.HttpClient) -> None:
        """What a runtime's request worker does: make the flows' pending requests."""
        if self.engine.perform_requests(client):
            self.deliver()

    def handle(self, event: dict, says: str) -> tagflow.IngestResult:
        who = event.get("identity", f"contact {event.get('contact')}")
        print(f"{self.stamp()}  {who:<16} {says}")
        result = self.engine.ingest(event)
        if result.duplicate:  # the first outcome comes back; nothing happened again
            print(f"{'':24}(duplicate delivery: ignored)")
            return result
        for tag in result.tags_added:
            print(f"{'':24}+ tag {tag}")
        for tag in result.tags_removed:
            print(f"{'':24}- tag {tag}")
        if result.merged:
            print(f"{'':24}= merged contact(s) {result.merged} into {result.contact_id}")
        if result.lifecycle_now:
            print(f"{'':24}* now a {result.lifecycle_now}")
        self.deliver()
        return result


def run(db_path: pathlib.Path) -> int:
    clock = tagflow.VirtualClock(START)
    with tagflow.Engine(db_path, clock=clock) as engine:
        version = engine.load_definitions(DEFINITIONS)
        print(f"shop bot on {db_path} (definitions v{version})\n")
        bot = Bot(engine, clock)

        bot.handle(tagflow.message("messenger:3001", "Shop ơi", key="mid.1"), '"Shop ơi"')
        bot.handle(tagflow.message("messenger:3001", "Shop ơi", key="mid.1"), '"Shop ơi" (webhook retried)')
        bot.wait(minutes=2)
        bot.handle(tagflow.message("messenger:3001", "Áo A giá bao nhiêu vậy?"), '"Áo A giá bao nhiêu vậy?"')
        bot.wait(minutes=3)
        bot.handle(tagflow.profile("messenger:3001", name="Minh", phone="0912 345 678", fields={"size": "M"}),
                   "profile: Minh, 0912 345 678, size M")
        bot.wait(hours=1)
        # The same person writes on Zalo with the phone in another spelling: one contact, not two.
        bot.handle(tagflow.message("zalo:8801", "Mình là Minh đây", profile={"phone": "+84 912 345 678"}),
                   '"Mình là Minh đây" (Zalo, phone +84 912 345 678)')
        bot.wait(minutes=30)
        bot.handle(tagflow.order("zalo:8801", "SO-1", 350000, ["Áo A"]), "order SO-1: Áo A, 350.000đ")
        bot.wait(days=3)
        bot.handle(tagflow.message("messenger:3001", "Chào shop"), '"Chào shop" (three days later)')
        # Messenger reports that the greeting was read; the engine finds it by the platform's id.
        greeting = bot.channels["messenger"].sent[-2]
        bot.handle(tagflow.receipt("messenger:3001", f"messenger-{greeting}", "read"), "(read receipt)")
        bot.wait(hours=1)
        bot.handle(tagflow.order("messenger:3001", "SO-2", 4800000, ["Đồng hồ"]), "order SO-2: Đồng hồ, 4.800.000đ")
        bot.wait(minutes=5)
        bot.handle(tagflow.postback("messenger:3001", "POINTS"), 'button "Điểm của tôi"')
        bot.perform_requests(FakeCrm())
        bot.wait(hours=1)

        try:
            engine.ingest(tagflow.profile("zalo:8801", phone="số điện thoại"))
        except tagflow.EventError as e:
            print(f"\nrefused as expected: field {e.field!r}: {e}")
        contact_count = len(engine.contacts())
        sent = len(engine.outbox())
        adapter_calls = sum(len(c.sent) for c in bot.channels.values())

    # Everything is in the file: a new engine on it sees the same contact.
    with tagflow.Engine(db_path) as engine:
        minh = engine.find_contact("zalo:8801")
        print("\nafter reopening the file:")
        print(f"  contact {minh.id}: {minh.name}, {minh.phone}, {minh.lifecycle}")
        print(f"  identities: {', '.join(minh.identities)}")
        print(f"  tags: {', '.join(sorted(minh.tags))}")
        print(f"  orders: {minh.orders}, spent {minh.total_spent:,.0f}đ, size {minh.fields.get('size')}")
        print(f"  notes: {[n.text for n in minh.notes]}")
        print(f"  {contact_count} contact(s), {sent} message(s) decided, {adapter_calls} delivered")
        rows = engine.outbox()
        print(f"  statuses: {', '.join(f'{m.id}:{m.status}' for m in rows)}")

        problems = []
        if contact_count != 1:
            problems.append(f"expected one contact across channels, got {contact_count}")
        if minh.identities != ["messenger:3001", "zalo:8801"]:
            problems.append(f"unexpected identities {minh.identities}")
        for tag in ("Khách cũ", "Hỏi giá", "Đã mua Áo A", "Khách VIP"):
            if tag not in minh.tags:
                problems.append(f"missing tag {tag}")
        texts = [m.text for m in engine.outbox()]
        if "Chào Minh, rất vui khi bạn quay lại!" not in texts:
            problems.append("the returning greeting was not sent")
        if texts.count("Chào bạn, Shop rất vui được hỗ trợ bạn!") != 1:
            problems.append("the welcome was not sent exactly once")
        if texts[-2:] != ["Bạn đang có 120 điểm thưởng.", "Điểm thưởng sẽ hết hạn cuối tháng, bạn nhớ dùng nhé!"]:
            problems.append(f"the points flow did not run as expected: {texts[-2:]}")
        if minh.fields.get("points") != 120 or minh.run is not None:
            problems.append("the CRM's answer was not saved, or the flow did not end")
        if adapter_calls != sent or any(m.status not in ("sent", "read") for m in rows):
            problems.append("not every message was delivered exactly once")
        if rows[0].attempts != 2 or sum(m.status == "read" for m in rows) != 1:
            problems.append("the retried first message or the read receipt is missing")
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    return 1 if problems else 0


def main(argv: list) -> int:
    if len(argv) > 1:
        return run(pathlib.Path(argv[1]))
    with tempfile.TemporaryDirectory(prefix="tagflow_shop_bot_") as tmp:
        return run(pathlib.Path(tmp) / "shop.db")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
