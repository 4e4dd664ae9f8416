"""Request blocks from Python: HttpClient subclasses, the built-in client against a loopback
http.server, answers as events. The C++ equivalents are in tests/test_http.cpp."""

import datetime as dt
import http.server
import json
import threading
import time

import pytest

import tagflow
from conftest import local

T0 = local("2026-01-05T10:00")
OK_TEXT = "Hạng Vàng, 120 điểm"
SORRY = "Hệ thống bận"
CUSTOMER = {"customer": {"tier": "Vàng", "points": 120}}


def defs_for(url, **extra):
    """The lookup flow of tests/test_http.cpp: POST the phone, map tier and points, or say sorry."""
    call = {"id": "call", "kind": "request", "method": "POST", "url": url, "headers": {"X-Shop": "demo"},
            "body": {"phone": "{{phone}}"}, "timeout": "1s",
            "map": {"tier": "/customer/tier", "points": "/customer/points"}, "next": "ok", "on_failure": "sorry"}
    call.update(extra)
    return {"schema": 1, "fields": [{"name": "tier", "type": "text"}, {"name": "points", "type": "number"}],
            "flows": [{"name": "lookup", "triggers": [{"postback": "GO"}], "blocks": [
                call,
                {"id": "ok", "kind": "send", "text": "Hạng {{tier}}, {{points}} điểm"},
                {"id": "sorry", "kind": "send", "text": SORRY}]}]}


class Shop:
    """An engine on a VirtualClock with the lookup flow; start() makes a contact wait for a request."""

    def __init__(self, url="http://crm.test/customers/{{phone}}"):
        self.clock = tagflow.VirtualClock(T0)
        self.engine = tagflow.Engine(clock=self.clock)
        self.engine.load_definitions(defs_for(url))

    def start(self, who="zalo:1"):
        self.engine.ingest(tagflow.profile(who, phone="0912 345 678"))
        return self.engine.ingest(tagflow.postback(who, "GO")).contact_id

    def texts(self):
        return [m.text for m in self.engine.outbox()]

    def answers(self):
        return [e for e in self.engine.input_events() if e["kind"] == "request_completed"]


@pytest.fixture
def shop():
    s = Shop()
    yield s
    s.engine.close()


class Recording(tagflow.HttpClient):
    """Answers every request with `response` (or raises `raises`) and keeps what it was asked."""

    def __init__(self, response=None, raises=None):
        super().__init__()
        self.response = response if response is not None else tagflow.HttpResponse(200, json.dumps(CUSTOMER))
        self.raises = raises
        self.requests = []
        self.threads = []

    def send(self, request):
        self.requests.append(request)
        self.threads.append(threading.get_ident())
        if self.raises is not None:
            raise self.raises
        return self.response


# ----- Python clients


def test_a_python_client_serves_a_request_block_and_the_answer_is_mapped(shop):
    cid = shop.start()
    assert shop.texts() == []  # the flow waits; nobody was called while deciding
    run = shop.engine.get_contact(cid).run
    assert (run.block, run.waiting) == ("call", "request")
    assert run.request is not None
    assert shop.engine.next_timer == T0 + dt.timedelta(seconds=2)  # twice the client's timeout

    client = Recording()
    assert shop.engine.perform_requests(client) == 1
    [request] = client.requests
    assert isinstance(request, tagflow.HttpRequest)
    assert request.id == run.request
    assert request.contact_id == cid
    assert request.method == "POST"
    assert request.url == "http://crm.test/customers/+84912345678"
    assert request.headers == [("X-Shop", "demo")]
    assert json.loads(request.body) == {"phone": "+84912345678"}
    assert request.timeout == dt.timedelta(seconds=1)
    assert request.created_at == T0 and request.created_at.tzinfo == dt.timezone.utc
    assert (request.flow, request.block) == ("lookup", "call")

    assert shop.texts() == [OK_TEXT]
    c = shop.engine.get_contact(cid)
    assert c.fields == {"tier": "Vàng", "points": 120.0}
    assert c.run is None
    [answer] = shop.answers()
    assert answer["key"] == f"request:{request.id}"
    assert answer["request_id"] == request.id and answer["status"] == 200
    assert shop.engine.perform_requests(client) == 0  # nothing pending any more
    assert len(client.requests) == 1


def test_an_exception_in_send_takes_the_failure_exit(shop):
    cid = shop.start()
    client = Recording(raises=ValueError("CRM down"))
    assert shop.engine.perform_requests(client) == 1
    assert shop.texts() == [SORRY]
    [answer] = shop.answers()
    assert answer["error"] == "ValueError: CRM down"
    assert "status" not in answer or answer["status"] == 0
    assert any(r.kind == "request_failed" for r in shop.engine.event_log())
    assert shop.engine.get_contact(cid).fields == {}
    # The engine and the interpreter are fine afterwards.
    shop.engine.ingest(tagflow.postback("zalo:1", "GO"))
    assert shop.engine.perform_requests(Recording()) == 1
    assert shop.texts() == [SORRY, OK_TEXT]


@pytest.mark.parametrize("response, error", [
    (tagflow.HttpResponse(500, '{"error": "boom"}'), None),
    (tagflow.HttpResponse(200, "{}"), None),  # an answer without the mapped values
    (tagflow.HttpResponse(error="timed out"), "timed out"),
    ({"status": 200}, "HttpClient.send returned a dict, not a tagflow.HttpResponse"),
    (None, "HttpClient.send returned a NoneType, not a tagflow.HttpResponse"),
])
def test_bad_answers_take_the_failure_exit(shop, response, error):
    shop.start()

    class Fixed(tagflow.HttpClient):
        def send(self, request):
            return response

    assert shop.engine.perform_requests(Fixed()) == 1
    assert shop.texts() == [SORRY]
    assert shop.answers()[0].get("error") == error


def test_the_base_class_and_super_send_answer_with_an_error(shop):
    shop.start()
    shop.engine.ingest(tagflow.profile("zalo:2", phone="0987 654 321"))
    shop.engine.ingest(tagflow.postback("zalo:2", "GO"))

    class Lazy(tagflow.HttpClient):
        def send(self, request):
            return super().send(request)  # nothing to defer to: no recursion, an error answer

    assert shop.engine.perform_requests(tagflow.HttpClient(), limit=1) == 1
    assert shop.engine.perform_requests(Lazy()) == 1
    assert shop.texts() == [SORRY, SORRY]
    assert all("not implemented" in a["error"] for a in shop.answers())


def test_a_client_that_forgets_super_init_is_refused():
    class Broken(tagflow.HttpClient):
        def __init__(self):
            pass

        def send(self, request):
            return tagflow.HttpResponse(200)

    with pytest.raises(TypeError):
        Broken()


def test_perform_requests_from_another_thread_while_the_main_thread_uses_the_engine(shop):
    shop.start()
    entered, release = threading.Event(), threading.Event()

    class Blocking(Recording):
        def send(self, request):
            entered.set()
            if not release.wait(30):
                raise TimeoutError("the main thread never let the client go on")
            return super().send(request)

    client = Blocking()
    made = []
    worker = threading.Thread(target=lambda: made.append(shop.engine.perform_requests(client)))
    worker.start()
    try:
        assert entered.wait(30), "send() was never called"
        # The worker is inside send(), waiting: the GIL and the engine are free for this thread.
        assert shop.engine.ingest(tagflow.message("zalo:2", "hi")).contact_created
        assert len(shop.engine.contacts()) == 2
    finally:
        release.set()
        worker.join(30)
    assert not worker.is_alive()
    assert made == [1]
    assert client.threads == [worker.ident] and worker.ident != threading.get_ident()
    assert shop.texts() == [OK_TEXT]


def test_several_threads_with_their_own_clients(shop):
    for i in range(8):
        shop.engine.ingest(tagflow.profile(f"zalo:{i}", phone=f"0912 345 67{i}"))  # distinct phones: no merge
        shop.engine.ingest(tagflow.postback(f"zalo:{i}", "GO"))
    clients = [Recording() for _ in range(4)]
    made = []

    def work(client):
        made.append(shop.engine.perform_requests(client, limit=2))

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive()
    # Concurrent calls may pick the same pending request (the engine does not claim it), so one
    # request may be sent twice; its second answer is a duplicate event and changes nothing.
    assert sum(made) >= 2
    rest = Recording()
    shop.engine.perform_requests(rest)
    assert {r.id for c in clients + [rest] for r in c.requests} == set(range(1, 9))
    assert shop.engine.perform_requests(rest) == 0
    assert shop.texts() == [OK_TEXT] * 8
    assert len(shop.answers()) == 8


def test_a_keyboard_interrupt_in_send_is_recorded_then_raised_again(shop):
    shop.start()
    shop.engine.ingest(tagflow.profile("zalo:2", phone="0987 654 321"))
    shop.engine.ingest(tagflow.postback("zalo:2", "GO"))
    client = Recording(raises=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        shop.engine.perform_requests(client)
    assert len(client.requests) == 2  # the engine went on with the other request
    assert shop.texts() == [SORRY, SORRY]
    assert [a["error"] for a in shop.answers()] == ["KeyboardInterrupt", "KeyboardInterrupt"]
    assert shop.engine.perform_requests(Recording()) == 0  # nothing stays stashed


def test_perform_requests_limit_and_argument_checks(shop):
    shop.start()
    shop.engine.ingest(tagflow.profile("zalo:2", phone="0987 654 321"))
    shop.engine.ingest(tagflow.postback("zalo:2", "GO"))
    client = Recording()
    assert shop.engine.perform_requests(client, limit=1) == 1
    assert shop.engine.perform_requests(client, limit=1) == 1
    assert shop.engine.perform_requests(client, limit=1) == 0

    class DuckTyped:
        def send(self, request):
            return tagflow.HttpResponse(200)

    with pytest.raises(TypeError):
        shop.engine.perform_requests(DuckTyped())
    with pytest.raises(TypeError):
        shop.engine.perform_requests(client, limit=-1)
    shop.engine.close()
    with pytest.raises(ValueError, match="closed"):
        shop.engine.perform_requests(client)


def test_a_request_never_performed_times_out_and_is_dropped(shop):
    shop.start()
    shop.engine.advance_to(shop.clock.advance(dt.timedelta(seconds=3)))
    assert shop.texts() == [SORRY]
    assert any(r.kind == "request_timeout" for r in shop.engine.event_log())
    client = Recording()
    assert shop.engine.perform_requests(client) == 0
    assert client.requests == []


def test_answers_are_events_so_a_replay_needs_no_client(shop):
    shop.start()
    shop.engine.perform_requests(Recording())
    with tagflow.Engine() as replay:
        replay.load_definitions(defs_for("http://crm.test/customers/{{phone}}"))
        replay.ingest_batch(shop.engine.input_events())
        assert replay.export_json() == shop.engine.export_json()


def test_request_completed_delivers_an_answer_by_hand(shop):
    cid = shop.start()
    request_id = shop.engine.get_contact(cid).run.request
    event = tagflow.request_completed(cid, request_id, 200, json.dumps(CUSTOMER), key="manual-1")
    assert event == {"kind": "request_completed", "contact": cid, "key": "manual-1", "request_id": request_id,
                     "status": 200, "text": json.dumps(CUSTOMER)}
    shop.engine.ingest(event)
    assert shop.texts() == [OK_TEXT]
    assert shop.engine.perform_requests(Recording()) == 0  # it counts as answered
    failed = tagflow.request_completed("zalo:1", 7, error="refused")
    assert failed == {"kind": "request_completed", "identity": "zalo:1", "request_id": 7, "status": 0,
                      "error": "refused"}
    with pytest.raises(TypeError):
        tagflow.request_completed(cid, "7")
    with pytest.raises(tagflow.EventError) as caught:
        shop.engine.ingest(tagflow.request_completed(cid, 0))
    assert caught.value.field == "request_id"


# ----- the value types


def test_http_response_is_built_checked_and_compared():
    r = tagflow.HttpResponse()
    assert (r.status, r.body, r.error) == (0, "", "")
    r = tagflow.HttpResponse(201, body='{"ok": true}')
    r.status = 404
    r.error = ""
    assert r == tagflow.HttpResponse(404, '{"ok": true}')
    assert r != tagflow.HttpResponse(404)
    assert r != (404, '{"ok": true}')
    assert repr(tagflow.HttpResponse(error="refused")) == "HttpResponse(status=0, error='refused')"
    with pytest.raises(ValueError):
        tagflow.HttpResponse(1000)
    with pytest.raises(ValueError):
        r.status = -1
    with pytest.raises(TypeError):
        tagflow.HttpResponse(200, b"bytes")


def test_http_request_can_be_built_to_try_a_client():
    r = tagflow.HttpRequest("http://127.0.0.1:1/x", method="PUT", headers={"A": "1", "B": "2"}, body="{}",
                            timeout=dt.timedelta(milliseconds=1500), id=3, contact_id=4, created_at=T0,
                            flow="f", block="b")
    assert (r.url, r.method, r.body, r.id, r.contact_id, r.flow, r.block) == (
        "http://127.0.0.1:1/x", "PUT", "{}", 3, 4, "f", "b")
    assert r.headers == [("A", "1"), ("B", "2")]
    assert r.timeout == dt.timedelta(seconds=1.5)
    assert r.created_at == T0
    assert r == tagflow.HttpRequest("http://127.0.0.1:1/x", method="PUT", headers=[("A", "1"), ("B", "2")],
                                    body="{}", timeout=dt.timedelta(seconds=1.5), id=3, contact_id=4,
                                    created_at="2026-01-05T03:00:00Z", flow="f", block="b")
    plain = tagflow.HttpRequest("http://x")
    assert (plain.method, plain.headers, plain.timeout) == ("GET", [], dt.timedelta(seconds=10))
    with pytest.raises(TypeError):
        tagflow.HttpRequest("http://x", headers=["A: 1"])
    with pytest.raises(ValueError):
        tagflow.HttpRequest("http://x", timeout=dt.timedelta(0))


# ----- the built-in client against a loopback server


class ShopApi:
    """A tiny shop API on 127.0.0.1, answering like a CRM would (the shop_api of test_http.cpp)."""

    def __init__(self):
        self.requests = []
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.answer()

            def do_POST(self):
                self.answer()

            def answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
                api.requests.append((self.command, self.path, dict(self.headers), body))
                status, reply = 200, b"{}"
                if self.path.startswith("/customers/+84912345678"):
                    reply = json.dumps(CUSTOMER, ensure_ascii=False).encode("utf-8")
                elif self.path == "/fail":
                    status, reply = 500, b'{"error": "boom"}'
                elif self.path == "/slow":
                    time.sleep(1.5)
                elif self.path == "/echo":
                    reply = body.encode("utf-8")
                else:
                    status = 404
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def api():
    a = ShopApi()
    yield a
    a.close()


def test_the_built_in_client_calls_the_api_and_the_answer_is_mapped(api):
    shop = Shop(api.base + "/customers/{{phone}}")
    with shop.engine:
        cid = shop.start()
        client = tagflow.make_http_client()
        assert isinstance(client, tagflow.HttpClient)
        assert shop.engine.perform_requests(client) == 1
        [(method, path, headers, body)] = api.requests
        assert (method, path) == ("POST", "/customers/+84912345678")
        assert headers.get("X-Shop") == "demo"
        assert json.loads(body) == {"phone": "+84912345678"}
        assert shop.texts() == [OK_TEXT]
        assert shop.engine.get_contact(cid).fields["points"] == 120.0
        assert shop.engine.perform_requests(client) == 0
        assert len(api.requests) == 1


@pytest.mark.parametrize("path", ["/fail", "/echo", "/slow"])
def test_the_built_in_client_reports_errors_refusals_and_slow_answers(api, path):
    shop = Shop(api.base + path)
    with shop.engine:
        shop.start()
        started = time.monotonic()
        assert shop.engine.perform_requests(tagflow.make_http_client()) == 1
        assert time.monotonic() - started < 10
        assert shop.texts() == [SORRY]
        [answer] = shop.answers()
        if path == "/slow":
            assert answer.get("error")  # gave up after the block's 1 s timeout
        else:
            assert answer.get("status") == (500 if path == "/fail" else 200)


def test_the_built_in_client_when_nobody_listens():
    gone = ShopApi()
    base = gone.base
    gone.close()
    shop = Shop(base + "/customers/{{phone}}")
    with shop.engine:
        shop.start()
        shop.engine.perform_requests(tagflow.make_http_client())
        assert shop.texts() == [SORRY]
        assert shop.answers()[0]["error"]


def test_the_built_in_client_can_be_called_directly(api):
    client = tagflow.make_http_client()
    r = client.send(tagflow.HttpRequest(api.base + "/echo", method="POST", body='{"x": "Áo"}',
                                         headers=[("Content-Type", "application/json")]))
    assert r == tagflow.HttpResponse(200, '{"x": "Áo"}')
    missing = client.send(tagflow.HttpRequest(api.base + "/nothing"))
    assert (missing.status, missing.error) == (404, "")
    tls = client.send(tagflow.HttpRequest("https://127.0.0.1:1/"))
    assert tls.status == 0 and tls.error
