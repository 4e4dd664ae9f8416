"""tagflow: an embeddable automation engine for chat commerce (contacts, tags, rules, events).

The engine is compiled C++ (``tagflow._core``); this package re-exports it and adds builders for
event dicts::

    import tagflow

    with tagflow.Engine("shop.db") as shop:
        shop.load_definitions({"schema": 1, "tags": ["Khách mới"], "rules": [
            {"name": "welcome", "when": "first_message",
             "then": [{"send": "Chào bạn!"}, {"add_tag": "Khách mới"}]}]})
        result = shop.ingest(tagflow.message("zalo:1001", "Xin chào", key="zalo-msg-1"))
        for m in shop.outbox():
            print(m.to, m.text)

An event is a dict with the keys of tagflow's event JSON (``kind``, ``identity`` or ``contact``,
``at``, ``key``, ``text``, ``profile``, ``order``, ...); ``at`` is a timezone-aware datetime or an
ISO 8601 string, and a key whose value is None counts as absent. See docs/python.md.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Dict, Iterable, Mapping, Optional, Union

from ._core import (
    DEFINITIONS_SCHEMA_VERSION,
    BlockCounter,
    Button,
    Channel,
    ChannelCapabilities,
    ChannelState,
    Contact,
    DefinitionError,
    DeliveryStatus,
    DispatchReport,
    Dispatcher,
    Engine,
    Error,
    EventError,
    EventRecord,
    Explanation,
    Expression,
    ExpressionError,
    FlowRun,
    HttpClient,
    HttpRequest,
    HttpResponse,
    IngestResult,
    Note,
    NotFoundError,
    OutboundMessage,
    Outcome,
    PolicyDecision,
    RenderedMessage,
    RunMigration,
    SendResult,
    SequenceState,
    SimulationResult,
    StoreError,
    VirtualClock,
    __version__,
    builtin_policy_names,
    check_definitions,
    degrade,
    evaluate_policy,
    fold,
    format_time,
    is_valid_email,
    is_valid_phone,
    is_valid_time_zone,
    make_http_client,
    normalize_email,
    normalize_phone,
    parse_time,
    simulate,
)

__all__ = [
    "DEFINITIONS_SCHEMA_VERSION",
    "BlockCounter",
    "Button",
    "Channel",
    "ChannelCapabilities",
    "ChannelState",
    "Contact",
    "DefinitionError",
    "DeliveryStatus",
    "DispatchReport",
    "Dispatcher",
    "Engine",
    "Error",
    "EventError",
    "EventRecord",
    "Explanation",
    "Expression",
    "ExpressionError",
    "FlowRun",
    "HttpClient",
    "HttpRequest",
    "HttpResponse",
    "IngestResult",
    "Note",
    "NotFoundError",
    "OutboundMessage",
    "Outcome",
    "PolicyDecision",
    "RenderedMessage",
    "RunMigration",
    "SendResult",
    "SequenceState",
    "SimulationResult",
    "StoreError",
    "VirtualClock",
    "__version__",
    "add_tag",
    "builtin_policy_names",
    "check_definitions",
    "degrade",
    "delivery",
    "evaluate_policy",
    "fold",
    "follow",
    "form_opened",
    "form_submitted",
    "format_time",
    "is_valid_email",
    "is_valid_phone",
    "is_valid_time_zone",
    "link_customer",
    "make_http_client",
    "message",
    "normalize_email",
    "normalize_phone",
    "note",
    "order",
    "parse_time",
    "postback",
    "profile",
    "receipt",
    "remove_tag",
    "request_completed",
    "resume_automation",
    "simulate",
    "track",
    "unfollow",
]

#: Who an event is about: an identity "channel:external_id" or a contact id.
Who = Union[str, int]
#: When it happened: an aware datetime or an ISO 8601 string; None means the engine clock.
When = Union[_dt.datetime, str, None]
Event = Dict[str, Any]


def _event(
    kind: str,
    who: Who,
    *,
    at: When = None,
    key: Optional[str] = None,
    profile: Optional[Mapping[str, Any]] = None,
    **members: Any,
) -> Event:
    """Builds an event dict; members whose value is None are left out."""
    event: Event = {"kind": kind}
    if isinstance(who, bool) or not isinstance(who, (str, int)):
        raise TypeError(f"who must be an identity 'channel:id' or a contact id, not {type(who).__name__}")
    if isinstance(who, int):
        event["contact"] = who
    else:
        event["identity"] = who
    if at is not None:
        event["at"] = at
    if key is not None:
        event["key"] = key
    if profile:
        event["profile"] = dict(profile)
    for name, value in members.items():
        if value is not None:
            event[name] = value
    return event


def message(who: Who, text: str, *, at: When = None, key: Optional[str] = None,
            profile: Optional[Mapping[str, Any]] = None) -> Event:
    """The contact sent a message. ``profile`` may carry what the channel knows (name, phone...)."""
    return _event("message_received", who, at=at, key=key, profile=profile, text=text)


def postback(who: Who, payload: str, *, at: When = None, key: Optional[str] = None,
             profile: Optional[Mapping[str, Any]] = None) -> Event:
    """The contact pressed a button or quick reply."""
    return _event("postback", who, at=at, key=key, profile=profile, payload=payload)


def form_opened(who: Who, form: str, *, at: When = None, key: Optional[str] = None,
                profile: Optional[Mapping[str, Any]] = None) -> Event:
    """The contact opened a form."""
    return _event("form_opened", who, at=at, key=key, profile=profile, form=form)


def form_submitted(who: Who, form: str, data: Optional[Mapping[str, Any]] = None, *, at: When = None,
                   key: Optional[str] = None, profile: Optional[Mapping[str, Any]] = None) -> Event:
    """The contact submitted a form; ``data`` values may be str, int, float or bool."""
    return _event("form_submitted", who, at=at, key=key, profile=profile, form=form,
                  data=dict(data) if data else None)


def order(who: Who, order_id: str, total: float, items: Iterable[str] = (), *, currency: str = "VND",
          at: When = None, key: Optional[str] = None, profile: Optional[Mapping[str, Any]] = None) -> Event:
    """The shop reports an order. ``items`` are product names as shown to the customer."""
    return _event("order_placed", who, at=at, key=key, profile=profile,
                  order={"id": order_id, "total": total, "currency": currency, "items": list(items)})


def profile(who: Who, *, name: Optional[str] = None, phone: Optional[str] = None, email: Optional[str] = None,
            time_zone: Optional[str] = None, locale: Optional[str] = None,
            fields: Optional[Mapping[str, Any]] = None, at: When = None, key: Optional[str] = None) -> Event:
    """Profile attributes or declared custom fields changed; only the given ones change."""
    changes = {"name": name, "phone": phone, "email": email, "timezone": time_zone, "locale": locale,
               "fields": dict(fields) if fields else None}
    return _event("profile_updated", who, at=at, key=key,
                  profile={k: v for k, v in changes.items() if v is not None})


def link_customer(who: Who, customer_id: str, *, at: When = None, key: Optional[str] = None,
                  profile: Optional[Mapping[str, Any]] = None) -> Event:
    """The shop linked the contact to its own customer id (the contact becomes a customer)."""
    return _event("customer_linked", who, at=at, key=key, profile=profile, customer_id=customer_id)


def note(who: Who, author: str, text: str, *, at: When = None, key: Optional[str] = None) -> Event:
    """Staff or automation wrote a note, e.g. ``note("zalo:1", "staff:lan", "Thích màu xanh")``."""
    return _event("note_added", who, at=at, key=key, author=author, text=text)


def track(who: Who, name: str, data: Optional[Mapping[str, Any]] = None, *, at: When = None,
          key: Optional[str] = None, profile: Optional[Mapping[str, Any]] = None) -> Event:
    """A custom event from the shop, with optional properties."""
    return _event("track", who, at=at, key=key, profile=profile, name=name, data=dict(data) if data else None)


def add_tag(who: Who, tag: str, *, at: When = None, key: Optional[str] = None) -> Event:
    """Adds a tag from outside (staff, API); rules on tag_added react to it."""
    return _event("tag_added", who, at=at, key=key, tag=tag)


def remove_tag(who: Who, tag: str, *, at: When = None, key: Optional[str] = None) -> Event:
    """Removes a tag from outside (staff, API)."""
    return _event("tag_removed", who, at=at, key=key, tag=tag)


def resume_automation(who: Who, *, at: When = None, key: Optional[str] = None) -> Event:
    """Staff hand the contact back to automation after a flow's handoff block paused it."""
    return _event("automation_resumed", who, at=at, key=key)


def request_completed(who: Who, request_id: int, status: int = 0, body: str = "", error: str = "", *,
                      at: When = None, key: Optional[str] = None) -> Event:
    """The answer to external request ``request_id`` (an ``HttpRequest.id``) of a flow's request block.

    ``Engine.perform_requests`` ingests these itself (keyed ``"request:<id>"``); build one to deliver
    an answer obtained some other way. ``status`` is the HTTP status (0 when there was no HTTP
    answer), ``body`` the response body and ``error`` a transport failure.
    """
    if isinstance(request_id, bool) or not isinstance(request_id, int):
        raise TypeError(f"request_id must be an int, not {type(request_id).__name__}")
    return _event("request_completed", who, at=at, key=key, request_id=request_id, status=status,
                  text=body or None, error=error or None)


def follow(who: Who, *, at: When = None, key: Optional[str] = None) -> Event:
    """The contact followed the account on the identity's channel (Zalo OA follow); policies such as
    Zalo's promotions-to-followers read it."""
    return _event("followed", who, at=at, key=key)


def unfollow(who: Who, *, at: When = None, key: Optional[str] = None) -> Event:
    """The contact stopped following the account on the identity's channel."""
    return _event("unfollowed", who, at=at, key=key)


#: A delivery status: a DeliveryStatus or its name ("sent", "delivered", "read", ...).
Status = Union[DeliveryStatus, str]


def _status_name(status: Status) -> str:
    if isinstance(status, DeliveryStatus):
        return status.name
    if not isinstance(status, str):
        raise TypeError(f"status must be a DeliveryStatus or its name, not {type(status).__name__}")
    return status


def delivery(message_id: int, status: Status, *, external_id: Optional[str] = None, error: Optional[str] = None,
             rule: Optional[str] = None, until: When = None, at: When = None, key: Optional[str] = None) -> Event:
    """A dispatch result for outbox message ``message_id`` (C++ ``event::delivery_of``).

    A Dispatcher ingests these itself (keyed ``"dispatch:<id>/a<attempt>"``); build one to record a
    result obtained some other way. ``external_id`` is the platform's id (``sent``), ``error`` the
    failure, ``rule`` the policy rule that blocked or deferred it, ``until`` the retry or deferral
    time.
    """
    if isinstance(message_id, bool) or not isinstance(message_id, int):
        raise TypeError(f"message_id must be an int, not {type(message_id).__name__}")
    event: Event = {"kind": "delivery_update", "message_id": message_id, "delivery": _status_name(status)}
    for name, value in (("external_id", external_id), ("error", error), ("name", rule), ("until", until),
                        ("at", at), ("key", key)):
        if value is not None:
            event[name] = value
    return event


def receipt(who: Who, external_id: str, status: Status, *, at: When = None, key: Optional[str] = None) -> Event:
    """A platform receipt (``delivered``, ``read``, ``clicked``) for the message the platform knows as
    ``external_id`` on the identity's channel (C++ ``event::receipt_of``). The status only moves
    forward; a receipt for a message this engine did not send changes nothing."""
    return _event("delivery_update", who, at=at, key=key, external_id=external_id, delivery=_status_name(status))
