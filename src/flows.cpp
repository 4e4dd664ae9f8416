#include "detail/flows.hpp"

#include "detail/codec.hpp"
#include "detail/render.hpp"

#include <tagflow/error.hpp>
#include <tagflow/text.hpp>

namespace tagflow::detail {

namespace json = boost::json;

namespace {

// A flow that passes this many blocks without waiting is looping; it is stopped and logged.
constexpr int max_steps_per_event = 100;

const definitions& defs_of(const flow_run& run, core_env& env) {
    if (run.definitions_version == env.definitions_version || !env.definitions_at) {
        return env.defs;
    }
    return env.definitions_at(run.definitions_version);
}

std::string origin_of(const flow_run& run) {
    std::string origin;
    origin.reserve(6 + run.flow.size() + run.block.size()); // one allocation per log row, not three
    origin += "flow:";
    origin += run.flow;
    origin += '/';
    origin += run.block;
    return origin;
}

void cancel_timer(flow_run& run, core_env& env) {
    if (run.timer != 0) {
        cancel_timer_id(env, run.timer);
        run.timer = 0;
    }
}

void schedule(contact& c, duration after, core_env& env) {
    const auto id = ++env.ids.timer;
    env.out.timers.push_back(timer_record{id, env.now + after, c.id, "flow"});
    c.run->timer = id;
}

// Every block entered is logged, so the body is written directly: the run's flow and block, and
// at most one more text member (`extra_key`: `extra_value`) when `extra_key` is not empty.
void log_step(contact& c, const char* kind, std::int64_t cause, core_env& env,
              std::string_view extra_key = {}, std::string_view extra_value = {}) {
    std::string body = "{\"flow\":";
    append_json_string(body, c.run->flow);
    body += ",\"block\":";
    append_json_string(body, c.run->block);
    if (!extra_key.empty()) {
        body += ',';
        append_json_string(body, extra_key);
        body += ':';
        append_json_string(body, extra_value);
    }
    body += '}';
    record_json(env, c.id, kind, std::move(body), cause, origin_of(*c.run));
}

// Sticky randomness: the same contact always takes the same path at the same block, so a
// replay (or a second visit) decides the same way. FNV-1a over the contact id and the block.
std::uint64_t stable_hash(contact_id id, const std::string& flow, const std::string& block) {
    std::uint64_t h = 1469598103934665603ULL;
    auto mix = [&h](const std::string& s) {
        for (unsigned char ch : s) {
            h ^= ch;
            h *= 1099511628211ULL;
        }
        h ^= 0xff;
        h *= 1099511628211ULL;
    };
    mix(std::to_string(id));
    mix(flow);
    mix(block);
    return h;
}

// Ends the current flow; a called flow returns to its caller.
void finish(contact& c, std::int64_t cause, core_env& env) {
    log_step(c, "flow_ended", cause, env);
    cancel_timer(*c.run, env);
    while (!c.run->stack.empty()) {
        auto frame = c.run->stack.back();
        c.run->stack.pop_back();
        if (!frame.next.empty()) {
            c.run->flow = frame.flow;
            c.run->block = frame.next;
            c.run->waiting.clear();
            return;
        }
    }
    c.run.reset();
}

// Moves to `next`, or finishes when the block has no such exit.
void go(contact& c, const std::string& next, std::int64_t cause, core_env& env) {
    c.run->waiting.clear();
    c.run->retries = 0;
    if (next.empty()) {
        finish(c, cause, env);
    } else {
        c.run->block = next;
    }
}

// Runs blocks from the current one until the run waits or ends.
void run_blocks(contact& c, std::int64_t cause, int depth, core_env& env, std::vector<raised>& queue) {
    for (int steps = 0; c.run && c.run->waiting.empty(); ++steps) {
        if (steps == max_steps_per_event) {
            log_step(c, "flow_loop_limit", cause, env);
            cancel_timer(*c.run, env);
            c.run.reset();
            return;
        }
        auto& run = *c.run;
        const auto& defs = defs_of(run, env);
        const flow* f = defs.find_flow(run.flow);
        const block* b = f ? f->find(run.block) : nullptr;
        if (!b) {
            // Only possible if stored definitions were edited by hand; stop rather than guess.
            log_step(c, "flow_error", cause, env);
            c.run.reset();
            return;
        }
        log_step(c, "block_entered", cause, env, "kind", to_string(b->kind));
        const std::string origin = origin_of(run);
        const std::string key_part = run.flow + "." + run.block;
        switch (b->kind) {
        case block_kind::send:
            send(c,
                 message_parts{.text = b->text,
                               .purpose = b->purpose,
                               .quick_replies = b->quick_replies,
                               .buttons = b->buttons,
                               .template_name = b->template_name,
                               .template_params = b->template_params,
                               .channel_tag = b->channel_tag,
                               .channels = b->channels},
                 cause, origin, key_part, env);
            go(c, b->next, cause, env);
            break;
        case block_kind::ask:
            send(c, message_parts{.text = b->text, .quick_replies = b->quick_replies}, cause, origin,
                 key_part, env);
            run.waiting = "reply";
            run.retries = 0;
            if (b->timeout) {
                schedule(c, *b->timeout, env);
            }
            break;
        case block_kind::form:
            send(c, message_parts{.text = b->text, .form = b->form}, cause, origin, key_part, env);
            run.waiting = "form";
            c.open_form = run.flow + "/" + run.block;
            if (b->timeout) {
                schedule(c, *b->timeout, env);
            }
            break;
        case block_kind::condition: {
            std::string next = b->otherwise;
            for (const auto& br : b->branches) {
                if (br.condition.evaluate(contact_view(c, env.now))) {
                    next = br.next;
                    break;
                }
            }
            go(c, next, cause, env);
            break;
        }
        case block_kind::tag:
            for (const auto& t : b->remove_tags) {
                change_tag(c, t, false, cause, origin, depth, env, queue);
            }
            for (const auto& t : b->add_tags) {
                change_tag(c, t, true, cause, origin, depth, env, queue);
            }
            go(c, b->next, cause, env);
            break;
        case block_kind::set_field: {
            try {
                std::string text;
                if (b->op == "set") {
                    text = render_template(b->value, c);
                } else if (b->op == "append") {
                    text = to_text(c.field(b->field)) + render_template(b->value, c);
                } else if (b->op == "increment") {
                    const auto current = c.field(b->field);
                    const double base =
                        std::holds_alternative<double>(current) ? std::get<double>(current) : 0.0;
                    const auto step = coerce_field(field_type::number, render_template(b->value, c));
                    text = to_text(value{base + std::get<double>(step)});
                }
                set_field(c, defs, b->field, text);
                check_lifecycle(c, cause, origin, depth, env, queue);
            } catch (const error& err) {
                log_step(c, "action_failed", cause, env, "error", err.what());
            }
            go(c, b->next, cause, env);
            break;
        }
        case block_kind::wait:
            if (b->delay) {
                run.waiting = "timer";
                schedule(c, *b->delay, env);
            } else if (!b->until.source().empty() && b->until.evaluate(contact_view(c, env.now))) {
                go(c, b->next, cause, env);
            } else {
                run.waiting = b->until_reply ? "reply" : "until";
                if (b->timeout) {
                    schedule(c, *b->timeout, env);
                }
            }
            break;
        case block_kind::randomizer: {
            long long total = 0;
            for (const auto& p : b->paths) {
                total += p.weight;
            }
            auto pick = static_cast<long long>(stable_hash(c.id, run.flow, run.block) %
                                               static_cast<std::uint64_t>(total));
            std::string next = b->paths.back().next;
            for (const auto& p : b->paths) {
                if (pick < p.weight) {
                    next = p.next;
                    break;
                }
                pick -= p.weight;
            }
            log_step(c, "randomizer_path", cause, env, "path", next);
            go(c, next, cause, env);
            break;
        }
        case block_kind::go_to:
        case block_kind::call: {
            const flow* target = defs.find_flow(b->flow);
            if (b->kind == block_kind::call) {
                run.stack.push_back(flow_frame{run.flow, b->next});
            }
            run.flow = target->name;
            run.block = target->start;
            break;
        }
        case block_kind::request: {
            http_request r;
            r.id = ++env.ids.request;
            r.contact = c.id;
            r.method = b->method;
            r.url = render_template(b->url, c);
            for (const auto& [name, text] : b->headers) {
                r.headers.emplace_back(name, render_template(text, c));
            }
            r.body = render_template(b->body, c);
            r.timeout = b->timeout.value_or(std::chrono::seconds(10));
            const auto client_timeout = r.timeout;
            r.created_at = env.now;
            r.flow = run.flow;
            r.block = run.block;
            env.out.requests.push_back(std::move(r));
            run.request = env.ids.request;
            run.waiting = "request";
            // The engine waits a little longer than the client may take, so a slow answer
            // still arrives before the flow gives up on it.
            schedule(c, client_timeout * 2, env);
            break;
        }
        case block_kind::handoff:
            c.paused_until = b->delay ? env.now + *b->delay : time_point::max();
            run.waiting = "handoff";
            if (b->delay) {
                schedule(c, *b->delay, env);
            }
            break;
        case block_kind::end:
            finish(c, cause, env);
            break;
        }
    }
}

const block* current_block(const contact& c, core_env& env) {
    if (!c.run) {
        return nullptr;
    }
    const flow* f = defs_of(*c.run, env).find_flow(c.run->flow);
    return f ? f->find(c.run->block) : nullptr;
}

// Maps a 2xx JSON answer into fields; any problem is a failure with a reason.
std::optional<std::string> apply_response(contact& c, const block& b, const event& e, core_env& env) {
    if (!e.error.empty()) {
        return e.error;
    }
    if (e.status < 200 || e.status > 299) {
        return "HTTP status " + std::to_string(e.status);
    }
    if (b.map.empty()) {
        return std::nullopt;
    }
    boost::system::error_code ec;
    const auto doc = json::parse(e.text, ec);
    if (ec) {
        return "the answer is not JSON: " + ec.message();
    }
    // Check everything before writing anything, so a failure leaves the fields as they were.
    std::vector<std::pair<std::string, std::string>> values;
    for (const auto& [field, pointer] : b.map) {
        const auto* found = doc.find_pointer(pointer, ec);
        if (!found || ec || !(found->is_string() || found->is_number() || found->is_bool())) {
            return "no scalar at " + pointer;
        }
        values.emplace_back(field, scalar_text(*found));
    }
    try {
        contact copy = c;
        for (const auto& [field, text] : values) {
            set_field(copy, defs_of(*c.run, env), field, text);
        }
        const auto run = c.run;
        c = std::move(copy);
        c.run = run;
    } catch (const error& err) {
        return err.what();
    }
    return std::nullopt;
}

void answer(contact& c, const block& b, const event& e, std::int64_t cause, core_env& env,
            std::vector<raised>& queue) {
    auto& run = *c.run;
    const std::string origin = origin_of(run);
    if (b.kind == block_kind::wait) {
        cancel_timer(run, env);
        go(c, b.next, cause, env);
        return;
    }
    std::optional<std::string> accepted;
    if (!b.choices.empty()) {
        const auto folded = fold(e.text);
        for (const auto& choice : b.choices) {
            if (fold(choice) == folded) {
                accepted = choice; // the first listed choice wins when two fold alike
                break;
            }
        }
    } else {
        try {
            accepted = to_text(coerce_field(b.input, e.text));
        } catch (const error&) {
            accepted.reset();
        }
    }
    if (accepted && !accepted->empty()) {
        try {
            set_field(c, defs_of(run, env), b.field, *accepted);
        } catch (const error&) {
            // The answer fits the ask's input type but not the field's (e.g. a text input into a
            // number field): treat it as a bad answer rather than refusing the whole message.
            accepted.reset();
        }
    }
    if (accepted && !accepted->empty()) {
        check_lifecycle(c, cause, origin, 1, env, queue);
        cancel_timer(run, env);
        go(c, b.next, cause, env);
        return;
    }
    ++run.retries;
    log_step(c, "answer_invalid", cause, env);
    if (run.retries > b.max_retries) {
        cancel_timer(run, env);
        go(c, b.on_invalid, cause, env);
        return;
    }
    const std::string retry =
        b.retry_text.empty() ? "Câu trả lời chưa hợp lệ, bạn vui lòng nhập lại: " + b.text : b.retry_text;
    send(c, message_parts{.text = retry, .quick_replies = b.quick_replies}, cause, origin,
         run.flow + "." + run.block, env);
}

void submit(contact& c, const block& b, const event& e, std::int64_t cause, core_env& env,
            std::vector<raised>& queue) {
    auto& run = *c.run;
    const std::string origin = origin_of(run);
    std::vector<std::pair<const form_field*, std::string>> values;
    std::string invalid;
    for (const auto& ff : b.fields) {
        const auto it = e.data.find(ff.name);
        const std::string given = it == e.data.end()         ? std::string{}
                                  : fold(it->second).empty() ? std::string{}
                                                             : it->second;
        bool ok = true;
        if (given.empty()) {
            ok = !ff.required;
        } else {
            try {
                values.emplace_back(&ff, to_text(coerce_field(ff.type, given)));
            } catch (const error&) {
                ok = false;
            }
        }
        if (!ok) {
            invalid += invalid.empty() ? "" : ", ";
            invalid += ff.label;
        }
    }
    if (!invalid.empty()) {
        log_step(c, "form_invalid", cause, env, "invalid", invalid);
        std::string text = b.invalid_text;
        // {{invalid}} is the list of labels; render it first so the contact's data cannot
        // inject template syntax through a label.
        for (std::size_t pos = text.find("{{invalid}}"); pos != std::string::npos;
             pos = text.find("{{invalid}}", pos)) {
            text.replace(pos, 11, invalid);
            pos += invalid.size();
        }
        send(c, message_parts{.text = text, .form = b.form}, cause, origin, run.flow + "." + run.block, env);
        return;
    }
    // Values were checked against their types above; set them on a copy so that a field that
    // still refuses (a time zone, say) leaves the contact as it was and is reported instead.
    contact updated = c;
    try {
        for (const auto& [ff, text] : values) {
            set_field(updated, defs_of(run, env), ff->name, text);
        }
    } catch (const error& err) {
        log_step(c, "form_invalid", cause, env, "invalid", err.what());
        return;
    }
    const auto kept_run = c.run;
    c = std::move(updated);
    c.run = kept_run;
    check_lifecycle(c, cause, origin, 1, env, queue);
    log_step(c, "form_completed", cause, env, "form", b.form);
    c.open_form.clear();
    cancel_timer(run, env);
    go(c, b.next, cause, env);
}

// A submission when no run waits for that form: a second submission of a completed form, one
// after the form's wait timed out, or one nobody asked for. Only forms declared
// "late_submission": "accept" take it (their callback runs as a new run); the rest ignore it.
void late_submission(contact& c, const event& e, std::int64_t cause, core_env& env,
                     std::vector<raised>& queue) {
    json::object body;
    body["form"] = e.form;
    for (const auto& f : env.defs.flows()) {
        for (const auto& b : f.blocks) {
            if (b.kind != block_kind::form || b.form != e.form || !b.accept_late) {
                continue;
            }
            if (c.open_form != f.name + "/" + b.id) {
                break; // completed already (the callback never runs twice), or never sent
            }
            if (c.run) {
                cancel_timer(*c.run, env);
            }
            c.run = flow_run{};
            c.run->flow = f.name;
            c.run->block = b.id;
            c.run->waiting = "form";
            c.run->definitions_version = env.definitions_version;
            record(env, c.id, "form_late_accepted", std::move(body), cause, "engine");
            submit(c, b, e, cause, env, queue);
            run_blocks(c, cause, 1, env, queue);
            return;
        }
    }
    record(env, c.id, "form_ignored", std::move(body), cause, "engine");
}

} // namespace

void start_flow(contact& c, const std::string& name, std::int64_t cause, int depth, core_env& env,
                std::vector<raised>& queue) {
    if (c.run) {
        log_step(c, "flow_interrupted", cause, env);
        cancel_timer(*c.run, env);
    }
    const flow* f = env.defs.find_flow(name);
    c.run = flow_run{};
    c.run->flow = f->name;
    c.run->block = f->start;
    c.run->definitions_version = env.definitions_version;
    log_step(c, "flow_started", cause, env);
    run_blocks(c, cause, depth, env, queue);
}

void flow_on_event(contact& c, const event& e, std::int64_t cause, core_env& env,
                   std::vector<raised>& queue) {
    if (e.kind == event_kind::request_completed &&
        !(c.run && c.run->waiting == "request" && c.run->request == e.request_id)) {
        // The run that asked moved on (replaced, timed out): close the request so it is never
        // sent again, and leave the current run alone.
        env.out.completed_requests.push_back(e.request_id);
        json::object body;
        body["request"] = e.request_id;
        record(env, c.id, "request_ignored", std::move(body), cause, "engine");
        return;
    }
    const bool waiting = c.run && !c.run->waiting.empty();
    // Triggers: a postback always means "start this" (a button press is explicit); a message
    // starts a flow unless a flow is waiting for it, where only interrupting triggers count.
    for (const auto& f : env.defs.flows()) {
        for (const auto& t : f.triggers) {
            bool hit = false;
            if (e.kind == event_kind::postback) {
                hit = !t.postback.empty() && t.postback == e.payload;
            } else if (e.kind == event_kind::message_received && t.text && (!waiting || t.interrupts)) {
                try {
                    hit = t.text->matches(e.text);
                } catch (const error&) {
                    hit = false;
                }
            }
            if (hit) {
                start_flow(c, f.name, cause, 1, env, queue);
                return;
            }
        }
    }
    if (!waiting) {
        if (e.kind == event_kind::form_submitted) {
            late_submission(c, e, cause, env, queue);
        }
        return;
    }
    const block* b = current_block(c, env);
    if (!b) {
        return;
    }
    const auto& state = c.run->waiting;
    if (e.kind == event_kind::request_completed) {
        env.out.completed_requests.push_back(e.request_id);
        if (state != "request" || c.run->request != e.request_id) {
            json::object body;
            body["request"] = e.request_id;
            record(env, c.id, "request_ignored", std::move(body), cause, "engine");
            return;
        }
        c.run->request = 0;
        cancel_timer(*c.run, env);
        if (auto failure = apply_response(c, *b, e, env)) {
            log_step(c, "request_failed", cause, env, "reason", *failure);
            go(c, b->on_failure, cause, env);
        } else {
            check_lifecycle(c, cause, origin_of(*c.run), 1, env, queue);
            go(c, b->next, cause, env);
        }
    } else if (e.kind == event_kind::automation_resumed && state == "handoff") {
        cancel_timer(*c.run, env);
        go(c, b->next, cause, env);
    } else if (e.kind == event_kind::message_received && state == "reply") {
        answer(c, *b, e, cause, env, queue);
    } else if (e.kind == event_kind::form_submitted && state == "form" && e.form == b->form) {
        submit(c, *b, e, cause, env, queue);
    } else if (e.kind == event_kind::form_submitted) {
        late_submission(c, e, cause, env, queue);
        return;
    } else if (state == "until" && b->until.evaluate(contact_view(c, env.now))) {
        cancel_timer(*c.run, env);
        go(c, b->next, cause, env);
    }
    run_blocks(c, cause, 1, env, queue);
}

void flow_recheck(contact& c, std::int64_t cause, core_env& env, std::vector<raised>& queue) {
    const block* b = current_block(c, env);
    if (!b || c.run->waiting != "until" || !b->until.evaluate(contact_view(c, env.now))) {
        return;
    }
    cancel_timer(*c.run, env);
    go(c, b->next, cause, env);
    run_blocks(c, cause, 1, env, queue);
}

void flow_on_timer(contact& c, std::int64_t timer_id, std::int64_t cause, core_env& env,
                   std::vector<raised>& queue) {
    if (!c.run || c.run->timer != timer_id) {
        return; // the run moved on; this timer was cancelled in spirit
    }
    c.run->timer = 0;
    const block* b = current_block(c, env);
    if (!b) {
        return;
    }
    if ((b->kind == block_kind::wait && b->delay) || b->kind == block_kind::handoff) {
        c.paused_until.reset();
        go(c, b->next, cause, env);
    } else if (b->kind == block_kind::request) {
        // Too late: the request is dropped so a later answer cannot resurrect this step.
        env.out.completed_requests.push_back(c.run->request);
        c.run->request = 0;
        log_step(c, "request_timeout", cause, env);
        go(c, b->on_failure, cause, env);
    } else {
        log_step(c, "flow_timeout", cause, env);
        go(c, b->on_timeout, cause, env);
    }
    run_blocks(c, cause, 1, env, queue);
}

} // namespace tagflow::detail
