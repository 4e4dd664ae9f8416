#include <tagflow/definitions.hpp>
#include <tagflow/error.hpp>

#include "detail/codec.hpp"
#include "detail/policy.hpp"
#include "detail/render.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <fstream>
#include <set>
#include <sstream>

namespace tagflow {

namespace json = boost::json;

struct definitions::data {
    int schema = definitions_schema_version;
    std::vector<tag_definition> tags;
    std::vector<field_definition> fields;
    std::vector<rule> rules;
    std::vector<flow> flows;
    std::vector<sequence> sequences;
    std::vector<date_trigger> dates;
    std::vector<frequency_cap> caps;
    std::map<std::string, policy_profile, std::less<>> channel_policies;
    std::vector<segment_definition> segments;
    std::string source = "{\"schema\":1}";
};

namespace {

constexpr std::array<std::pair<trigger, std::string_view>, 25> trigger_names{{
    {trigger::message_received, "message_received"},
    {trigger::first_message, "first_message"},
    {trigger::returning_message, "returning_message"},
    {trigger::postback, "postback"},
    {trigger::form_opened, "form_opened"},
    {trigger::form_submitted, "form_submitted"},
    {trigger::order_placed, "order_placed"},
    {trigger::profile_updated, "profile_updated"},
    {trigger::customer_linked, "customer_linked"},
    {trigger::note_added, "note_added"},
    {trigger::track, "track"},
    {trigger::tag_added, "tag_added"},
    {trigger::tag_removed, "tag_removed"},
    {trigger::lifecycle_changed, "lifecycle_changed"},
    {trigger::inactive, "inactive"},
    {trigger::followed, "followed"},
    {trigger::unfollowed, "unfollowed"},
    {trigger::message_sent, "message_sent"},
    {trigger::message_delivered, "message_delivered"},
    {trigger::message_read, "message_read"},
    {trigger::message_clicked, "message_clicked"},
    {trigger::message_failed, "message_failed"},
    {trigger::message_blocked, "message_blocked"},
    {trigger::segment_entered, "segment_entered"},
    {trigger::segment_left, "segment_left"},
}};

// Built-in profile fields and the type each behaves as.
constexpr std::array<std::pair<std::string_view, field_type>, 6> profile_fields{{
    {"name", field_type::text},
    {"phone", field_type::phone},
    {"email", field_type::email},
    {"timezone", field_type::text},
    {"locale", field_type::text},
    {"customer_id", field_type::text},
}};

std::string join(std::initializer_list<std::string_view> names) {
    std::string out;
    for (auto n : names) {
        out += out.empty() ? "" : ", ";
        out += n;
    }
    return out;
}

// Walks the document, building JSON paths for every message.
class loader {
public:
    explicit loader(definitions::data& out) : out_(out) {}

    void load(const json::value& root) {
        const auto& doc = object(root, "$");
        allow(doc, "$",
              {"schema", "tags", "fields", "segments", "flows", "sequences", "dates", "caps", "rules",
               "channels", "policies"});
        load_channels(doc);
        if (const auto* caps = doc.if_contains("caps")) {
            load_caps(array(*caps, "$.caps"));
        }
        const auto* schema = doc.if_contains("schema");
        if (!schema) {
            throw definition_error("$.schema", "required; expected the schema version 1");
        }
        if (!schema->is_int64() || schema->get_int64() != definitions_schema_version) {
            throw definition_error("$.schema", "unsupported schema version " + json::serialize(*schema) +
                                                   "; this tagflow reads version 1");
        }
        out_.schema = definitions_schema_version;
        if (const auto* tags = doc.if_contains("tags")) {
            load_tags(array(*tags, "$.tags"));
        }
        if (const auto* fields = doc.if_contains("fields")) {
            load_fields(array(*fields, "$.fields"));
        }
        if (const auto* segments = doc.if_contains("segments")) {
            load_segments(array(*segments, "$.segments"));
        }
        if (const auto* flows = doc.if_contains("flows")) {
            load_flows(array(*flows, "$.flows"));
        }
        if (const auto* seqs = doc.if_contains("sequences")) {
            load_sequences(array(*seqs, "$.sequences"));
        }
        if (const auto* dates = doc.if_contains("dates")) {
            load_dates(array(*dates, "$.dates"));
        }
        if (const auto* rules = doc.if_contains("rules")) {
            load_rules(array(*rules, "$.rules"));
        }
    }

private:
    static const json::object& object(const json::value& v, const std::string& path) {
        if (!v.is_object()) {
            throw definition_error(path, "expected an object, got " + detail::json_kind_name(v));
        }
        return v.get_object();
    }
    static const json::array& array(const json::value& v, const std::string& path) {
        if (!v.is_array()) {
            throw definition_error(path, "expected an array, got " + detail::json_kind_name(v));
        }
        return v.get_array();
    }
    static std::string string(const json::value& v, const std::string& path, bool allow_empty = false) {
        if (!v.is_string()) {
            throw definition_error(path, "expected a string, got " + detail::json_kind_name(v));
        }
        if (!allow_empty && v.get_string().empty()) {
            throw definition_error(path, "must not be empty");
        }
        return std::string(v.get_string());
    }
    static std::string required_string(const json::object& o, std::string_view key, const std::string& path) {
        const auto* v = o.if_contains(key);
        if (!v) {
            throw definition_error(path + "." + std::string(key), "required");
        }
        return string(*v, path + "." + std::string(key));
    }
    static std::string optional_string(const json::object& o, std::string_view key, const std::string& path) {
        const auto* v = o.if_contains(key);
        return v ? string(*v, path + "." + std::string(key), true) : std::string{};
    }
    static void allow(const json::object& o, const std::string& path,
                      std::initializer_list<std::string_view> keys) {
        for (const auto& [k, v] : o) {
            if (std::find(keys.begin(), keys.end(), std::string_view(k)) == keys.end()) {
                throw definition_error(path + "." + std::string(k),
                                       "unknown key; expected one of: " + join(keys));
            }
        }
    }
    static std::string at(const std::string& path, std::size_t i) {
        return path + "[" + std::to_string(i) + "]";
    }

    void load_tags(const json::array& tags) {
        std::set<std::string> seen;
        for (std::size_t i = 0; i < tags.size(); ++i) {
            const auto path = at("$.tags", i);
            tag_definition t;
            if (tags[i].is_string()) {
                t.name = string(tags[i], path);
            } else {
                if (!tags[i].is_object()) {
                    throw definition_error(path, "expected a tag name or an object, got " +
                                                     detail::json_kind_name(tags[i]));
                }
                const auto& o = tags[i].get_object();
                allow(o, path, {"name", "description"});
                t.name = required_string(o, "name", path);
                t.description = optional_string(o, "description", path);
            }
            if (!seen.insert(t.name).second) {
                throw definition_error(path, "duplicate tag \"" + t.name + "\"");
            }
            out_.tags.push_back(std::move(t));
        }
    }

    void load_fields(const json::array& fields) {
        std::set<std::string> seen;
        for (std::size_t i = 0; i < fields.size(); ++i) {
            const auto path = at("$.fields", i);
            const auto& o = object(fields[i], path);
            allow(o, path, {"name", "type", "description"});
            field_definition f;
            f.name = required_string(o, "name", path);
            const bool identifier =
                std::all_of(
                    f.name.begin(), f.name.end(),
                    [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }) &&
                !(f.name[0] >= '0' && f.name[0] <= '9');
            if (!identifier) {
                throw definition_error(path + ".name",
                                       "\"" + f.name +
                                           "\" is not a field name; use lowercase ASCII letters, "
                                           "digits and _, not starting with a digit");
            }
            const auto type_name = required_string(o, "type", path);
            const auto type = parse_field_type(type_name);
            if (!type) {
                throw definition_error(path + ".type", "unknown field type \"" + type_name +
                                                           "\"; expected one of: text, number, bool, date, "
                                                           "phone, email");
            }
            f.type = *type;
            for (const auto& [name, builtin] : profile_fields) {
                if (name == f.name && builtin != f.type) {
                    throw definition_error(path + ".type", "\"" + f.name +
                                                               "\" is a built-in profile field of type " +
                                                               std::string(to_string(builtin)));
                }
            }
            f.description = optional_string(o, "description", path);
            if (!seen.insert(f.name).second) {
                throw definition_error(path, "duplicate field \"" + f.name + "\"");
            }
            out_.fields.push_back(std::move(f));
        }
    }

    bool tag_declared(const std::string& tag) const {
        return std::any_of(out_.tags.begin(), out_.tags.end(), [&](const auto& t) { return t.name == tag; });
    }
    bool field_declared(const std::string& name) const {
        return is_profile_field(name) || std::any_of(out_.fields.begin(), out_.fields.end(),
                                                     [&](const auto& f) { return f.name == name; });
    }
    void check_tag(const std::string& tag, const std::string& path) const {
        if (!tag_declared(tag)) {
            throw definition_error(path, "tag \"" + tag + "\" is not declared in $.tags");
        }
    }
    void check_field(const std::string& name, const std::string& path) const {
        if (!field_declared(name)) {
            throw definition_error(path, "field \"" + name + "\" is not declared in $.fields");
        }
    }
    static void check_template(const std::string& text, const std::string& path) {
        if (auto problem = detail::template_error(text)) {
            throw definition_error(path, "invalid template: " + *problem);
        }
    }

    void check_flow(const std::string& name, const std::string& path) const {
        if (std::none_of(out_.flows.begin(), out_.flows.end(),
                         [&](const flow& f) { return f.name == name; })) {
            throw definition_error(path, "flow \"" + name + "\" is not declared in $.flows");
        }
    }

    static duration load_duration(const json::value& v, const std::string& path) {
        // "90s", "30m", "2h", "7d": short, readable, and unambiguous about units.
        const auto text = string(v, path);
        if (const auto d = detail::parse_short_duration(text)) {
            return *d;
        }
        throw definition_error(
            path, "expected a duration such as \"90s\", \"30m\", \"2h\" or \"7d\", got \"" + text + "\"");
    }

    static std::vector<std::string> strings(const json::value& v, const std::string& path) {
        std::vector<std::string> out;
        const auto& list = array(v, path);
        for (std::size_t i = 0; i < list.size(); ++i) {
            out.push_back(string(list[i], at(path, i)));
        }
        return out;
    }

    void load_flows(const json::array& flows) {
        std::set<std::string> names;
        for (std::size_t i = 0; i < flows.size(); ++i) {
            const auto path = at("$.flows", i);
            const auto& o = object(flows[i], path);
            allow(o, path, {"name", "description", "start", "triggers", "blocks"});
            flow f;
            f.path = path;
            f.name = required_string(o, "name", path);
            if (!names.insert(f.name).second) {
                throw definition_error(path + ".name", "duplicate flow name \"" + f.name + "\"");
            }
            if (const auto* t = o.if_contains("triggers")) {
                const auto& list = array(*t, path + ".triggers");
                for (std::size_t j = 0; j < list.size(); ++j) {
                    f.triggers.push_back(load_flow_trigger(object(list[j], at(path + ".triggers", j)),
                                                           at(path + ".triggers", j)));
                }
            }
            const auto* blocks = o.if_contains("blocks");
            if (!blocks) {
                throw definition_error(path + ".blocks", "required; expected an array of blocks");
            }
            const auto& list = array(*blocks, path + ".blocks");
            if (list.empty()) {
                throw definition_error(path + ".blocks", "a flow needs at least one block");
            }
            std::set<std::string> ids;
            for (std::size_t j = 0; j < list.size(); ++j) {
                auto b = load_block(list[j], at(path + ".blocks", j));
                if (!ids.insert(b.id).second) {
                    throw definition_error(b.path + ".id", "duplicate block id \"" + b.id + "\"");
                }
                f.blocks.push_back(std::move(b));
            }
            f.start = o.contains("start") ? string(o.at("start"), path + ".start") : f.blocks.front().id;
            if (!f.find(f.start)) {
                throw definition_error(path + ".start", "no block \"" + f.start + "\" in this flow");
            }
            for (const auto& b : f.blocks) {
                auto exit = [&](const std::string& target, const char* key) {
                    if (!target.empty() && !f.find(target)) {
                        throw definition_error(b.path + "." + key,
                                               "no block \"" + target + "\" in flow \"" + f.name + "\"");
                    }
                };
                exit(b.next, "next");
                exit(b.on_invalid, "on_invalid");
                exit(b.on_timeout, "on_timeout");
                exit(b.otherwise, "else");
                exit(b.on_failure, "on_failure");
                for (std::size_t k = 0; k < b.branches.size(); ++k) {
                    exit(b.branches[k].next, ("branches[" + std::to_string(k) + "].next").c_str());
                }
                for (std::size_t k = 0; k < b.paths.size(); ++k) {
                    exit(b.paths[k].next, ("paths[" + std::to_string(k) + "].next").c_str());
                }
            }
            out_.flows.push_back(std::move(f));
        }
        // go_to and call may name flows declared later in the document.
        for (const auto& f : out_.flows) {
            for (const auto& b : f.blocks) {
                if (b.kind == block_kind::go_to || b.kind == block_kind::call) {
                    check_flow(b.flow, b.path + ".flow");
                }
            }
        }
    }

    flow_trigger load_flow_trigger(const json::object& o, const std::string& path) const {
        allow(o, path, {"postback", "keywords", "contains", "regex", "interrupts"});
        flow_trigger t;
        int kinds = 0;
        try {
            if (const auto* p = o.if_contains("postback")) {
                t.postback = string(*p, path + ".postback");
                ++kinds;
            }
            if (const auto* k = o.if_contains("keywords")) {
                t.text = text_filter::keywords(strings(*k, path + ".keywords"));
                ++kinds;
            }
            if (const auto* c = o.if_contains("contains")) {
                t.text = text_filter::contains(string(*c, path + ".contains"));
                ++kinds;
            }
            if (const auto* r = o.if_contains("regex")) {
                t.text = text_filter::regex(string(*r, path + ".regex"));
                ++kinds;
            }
        } catch (const definition_error&) {
            throw;
        } catch (const error& e) {
            throw definition_error(path, e.what());
        }
        if (kinds != 1) {
            throw definition_error(path, "expected exactly one of: postback, keywords, contains, regex");
        }
        if (const auto* i = o.if_contains("interrupts")) {
            if (!i->is_bool()) {
                throw definition_error(path + ".interrupts",
                                       "expected a bool, got " + detail::json_kind_name(*i));
            }
            t.interrupts = i->get_bool();
        }
        return t;
    }

    block load_block(const json::value& v, const std::string& path) const {
        const auto& o = object(v, path);
        block b;
        b.path = path;
        b.id = required_string(o, "id", path);
        const auto kind = required_string(o, "kind", path);
        static constexpr std::array<std::pair<block_kind, std::string_view>, 13> kinds{{
            {block_kind::send, "send"},
            {block_kind::ask, "ask"},
            {block_kind::form, "form"},
            {block_kind::condition, "condition"},
            {block_kind::tag, "tag"},
            {block_kind::set_field, "set_field"},
            {block_kind::wait, "wait"},
            {block_kind::randomizer, "randomizer"},
            {block_kind::go_to, "go_to"},
            {block_kind::call, "call"},
            {block_kind::request, "request"},
            {block_kind::handoff, "handoff"},
            {block_kind::end, "end"},
        }};
        const auto* k =
            std::find_if(kinds.begin(), kinds.end(), [&](const auto& p) { return p.second == kind; });
        if (k == kinds.end()) {
            throw definition_error(path + ".kind",
                                   "unknown block kind \"" + kind +
                                       "\"; expected one of: send, ask, form, condition, tag, "
                                       "set_field, wait, randomizer, go_to, call, request, handoff, end");
        }
        b.kind = k->first;
        auto opt_string = [&](const char* key, std::string& out) {
            if (const auto* x = o.if_contains(key)) {
                out = string(*x, path + "." + key);
            }
        };
        auto text_template = [&](bool required) {
            if (required || o.contains("text")) {
                b.text = required_string(o, "text", path);
                check_template(b.text, path + ".text");
            }
        };
        auto timeouts = [&] {
            if (const auto* t = o.if_contains("timeout")) {
                b.timeout = load_duration(*t, path + ".timeout");
            }
            opt_string("on_timeout", b.on_timeout);
            if (!b.on_timeout.empty() && !b.timeout) {
                throw definition_error(path + ".on_timeout", "needs a \"timeout\"");
            }
        };
        switch (b.kind) {
        case block_kind::send: {
            allow(o, path,
                  {"id", "kind", "description", "text", "quick_replies", "buttons", "next", "purpose",
                   "template", "template_params", "channel_tag", "channels"});
            text_template(true);
            if (o.contains("purpose")) {
                b.purpose = load_purpose(o.at("purpose"), path + ".purpose");
            }
            load_channel_specifics(o, path, b.template_name, b.template_params, b.channel_tag, b.channels);
            if (const auto* q = o.if_contains("quick_replies")) {
                b.quick_replies = strings(*q, path + ".quick_replies");
            }
            if (const auto* bs = o.if_contains("buttons")) {
                const auto& list = array(*bs, path + ".buttons");
                for (std::size_t i = 0; i < list.size(); ++i) {
                    const auto bp = at(path + ".buttons", i);
                    const auto& bo = object(list[i], bp);
                    allow(bo, bp, {"title", "payload"});
                    b.buttons.push_back(
                        button{required_string(bo, "title", bp), required_string(bo, "payload", bp)});
                }
            }
            break;
        }
        case block_kind::ask: {
            allow(o, path,
                  {"id", "kind", "description", "text", "input", "choices", "field", "retry_text",
                   "max_retries", "on_invalid", "timeout", "on_timeout", "quick_replies", "next"});
            text_template(true);
            b.field = required_string(o, "field", path);
            check_field(b.field, path + ".field");
            const std::string input = o.contains("input") ? string(o.at("input"), path + ".input") : "text";
            if (input == "choice") {
                if (!o.contains("choices")) {
                    throw definition_error(path + ".choices", "required for input \"choice\"");
                }
                b.choices = strings(o.at("choices"), path + ".choices");
                if (b.choices.empty()) {
                    throw definition_error(path + ".choices", "needs at least one choice");
                }
                b.quick_replies = b.choices;
            } else if (auto t = parse_field_type(input)) {
                b.input = *t;
                if (o.contains("choices")) {
                    throw definition_error(path + ".choices", "only used with \"input\": \"choice\"");
                }
            } else {
                throw definition_error(path + ".input",
                                       "unknown input \"" + input +
                                           "\"; expected text, number, bool, date, phone, email or choice");
            }
            if (const auto* q = o.if_contains("quick_replies")) {
                b.quick_replies = strings(*q, path + ".quick_replies");
            }
            opt_string("retry_text", b.retry_text);
            if (!b.retry_text.empty()) {
                check_template(b.retry_text, path + ".retry_text");
            }
            if (const auto* m = o.if_contains("max_retries")) {
                if (!m->is_int64() || m->get_int64() < 0 || m->get_int64() > 100) {
                    throw definition_error(path + ".max_retries", "expected an integer from 0 to 100");
                }
                b.max_retries = static_cast<int>(m->get_int64());
            }
            opt_string("on_invalid", b.on_invalid);
            timeouts();
            break;
        }
        case block_kind::form: {
            allow(o, path,
                  {"id", "kind", "description", "form", "text", "fields", "invalid_text", "timeout",
                   "on_timeout", "late_submission", "next"});
            if (const auto* late = o.if_contains("late_submission")) {
                const auto policy = string(*late, path + ".late_submission");
                if (policy != "ignore" && policy != "accept") {
                    throw definition_error(path + ".late_submission",
                                           "unknown policy \"" + policy + "\"; expected ignore or accept");
                }
                b.accept_late = policy == "accept";
            }
            b.form = required_string(o, "form", path);
            text_template(false);
            if (b.text.empty()) {
                b.text = b.form;
            }
            const auto* fields = o.if_contains("fields");
            if (!fields) {
                throw definition_error(path + ".fields", "required; a form needs fields");
            }
            const auto& list = array(*fields, path + ".fields");
            if (list.empty()) {
                throw definition_error(path + ".fields", "a form needs at least one field");
            }
            for (std::size_t i = 0; i < list.size(); ++i) {
                const auto fp = at(path + ".fields", i);
                const auto& fo = object(list[i], fp);
                allow(fo, fp, {"name", "label", "required"});
                form_field ff;
                ff.name = required_string(fo, "name", fp);
                check_field(ff.name, fp + ".name");
                if (const auto def =
                        std::find_if(out_.fields.begin(), out_.fields.end(),
                                     [&](const field_definition& d) { return d.name == ff.name; });
                    def != out_.fields.end()) {
                    ff.type = def->type;
                } else {
                    for (const auto& [name, type] : profile_fields) {
                        if (name == ff.name) {
                            ff.type = type;
                        }
                    }
                }
                ff.label = optional_string(fo, "label", fp);
                if (ff.label.empty()) {
                    ff.label = ff.name;
                }
                if (const auto* r = fo.if_contains("required")) {
                    if (!r->is_bool()) {
                        throw definition_error(fp + ".required",
                                               "expected a bool, got " + detail::json_kind_name(*r));
                    }
                    ff.required = r->get_bool();
                }
                b.fields.push_back(std::move(ff));
            }
            opt_string("invalid_text", b.invalid_text);
            if (b.invalid_text.empty()) {
                b.invalid_text = "Thông tin chưa hợp lệ: {{invalid}}";
            }
            check_template(b.invalid_text, path + ".invalid_text");
            timeouts();
            break;
        }
        case block_kind::condition: {
            allow(o, path, {"id", "kind", "description", "branches", "else"});
            const auto* branches = o.if_contains("branches");
            if (!branches) {
                throw definition_error(path + ".branches", "required");
            }
            const auto& list = array(*branches, path + ".branches");
            for (std::size_t i = 0; i < list.size(); ++i) {
                const auto bp = at(path + ".branches", i);
                const auto& bo = object(list[i], bp);
                allow(bo, bp, {"if", "next"});
                branch br;
                try {
                    br.condition = expression::parse(required_string(bo, "if", bp));
                } catch (const syntax_error& e) {
                    throw definition_error(bp + ".if", e.what());
                }
                for (const auto& tag : br.condition.referenced_tags()) {
                    check_tag(tag, bp + ".if");
                }
                for (const auto& field : br.condition.referenced_fields()) {
                    check_field(field, bp + ".if");
                }
                br.next = required_string(bo, "next", bp);
                b.branches.push_back(std::move(br));
            }
            opt_string("else", b.otherwise);
            break;
        }
        case block_kind::tag: {
            allow(o, path, {"id", "kind", "description", "add", "remove", "next"});
            if (const auto* a = o.if_contains("add")) {
                b.add_tags = strings(*a, path + ".add");
            }
            if (const auto* r = o.if_contains("remove")) {
                b.remove_tags = strings(*r, path + ".remove");
            }
            for (std::size_t i = 0; i < b.add_tags.size(); ++i) {
                check_tag(b.add_tags[i], at(path + ".add", i));
            }
            for (std::size_t i = 0; i < b.remove_tags.size(); ++i) {
                check_tag(b.remove_tags[i], at(path + ".remove", i));
            }
            if (b.add_tags.empty() && b.remove_tags.empty()) {
                throw definition_error(path, "a tag block needs \"add\" or \"remove\"");
            }
            break;
        }
        case block_kind::set_field: {
            allow(o, path, {"id", "kind", "description", "field", "op", "value", "next"});
            b.field = required_string(o, "field", path);
            check_field(b.field, path + ".field");
            opt_string("op", b.op);
            if (b.op != "set" && b.op != "clear" && b.op != "increment" && b.op != "append") {
                throw definition_error(path + ".op", "unknown op \"" + b.op +
                                                         "\"; expected set, clear, increment or append");
            }
            if (const auto* val = o.if_contains("value")) {
                if (!(val->is_string() || val->is_number() || val->is_bool())) {
                    throw definition_error(path + ".value", "expected a string, number or bool, got " +
                                                                detail::json_kind_name(*val));
                }
                b.value = val->is_string() ? std::string(val->get_string()) : detail::scalar_text(*val);
                check_template(b.value, path + ".value");
            } else if (b.op != "clear") {
                throw definition_error(path + ".value", "required for op \"" + b.op + "\"");
            }
            break;
        }
        case block_kind::wait: {
            allow(o, path,
                  {"id", "kind", "description", "delay", "until_reply", "until", "timeout", "on_timeout",
                   "next"});
            if (const auto* d = o.if_contains("delay")) {
                b.delay = load_duration(*d, path + ".delay");
            }
            if (const auto* r = o.if_contains("until_reply")) {
                if (!r->is_bool()) {
                    throw definition_error(path + ".until_reply",
                                           "expected a bool, got " + detail::json_kind_name(*r));
                }
                b.until_reply = r->get_bool();
            }
            if (const auto* u = o.if_contains("until")) {
                try {
                    b.until = expression::parse(string(*u, path + ".until"));
                } catch (const syntax_error& e) {
                    throw definition_error(path + ".until", e.what());
                }
                for (const auto& tag : b.until.referenced_tags()) {
                    check_tag(tag, path + ".until");
                }
                for (const auto& field : b.until.referenced_fields()) {
                    check_field(field, path + ".until");
                }
            }
            timeouts();
            const bool waits_for_something = b.until_reply || !b.until.source().empty();
            if (b.delay && (waits_for_something || b.timeout)) {
                throw definition_error(
                    path, "a wait is either a \"delay\" or \"until_reply\"/\"until\" with a \"timeout\"");
            }
            if (!b.delay && !waits_for_something) {
                throw definition_error(path, "a wait needs \"delay\", \"until_reply\" or \"until\"");
            }
            break;
        }
        case block_kind::randomizer: {
            allow(o, path, {"id", "kind", "description", "paths"});
            const auto* paths = o.if_contains("paths");
            if (!paths) {
                throw definition_error(path + ".paths", "required");
            }
            const auto& list = array(*paths, path + ".paths");
            if (list.empty()) {
                throw definition_error(path + ".paths", "needs at least one path");
            }
            for (std::size_t i = 0; i < list.size(); ++i) {
                const auto pp = at(path + ".paths", i);
                const auto& po = object(list[i], pp);
                allow(po, pp, {"weight", "next"});
                weighted_path wp;
                if (const auto* w = po.if_contains("weight")) {
                    if (!w->is_int64() || w->get_int64() < 1 || w->get_int64() > 1000000) {
                        throw definition_error(pp + ".weight", "expected an integer from 1 to 1000000");
                    }
                    wp.weight = static_cast<int>(w->get_int64());
                }
                wp.next = required_string(po, "next", pp);
                b.paths.push_back(std::move(wp));
            }
            break;
        }
        case block_kind::go_to:
            allow(o, path, {"id", "kind", "description", "flow"});
            b.flow = required_string(o, "flow", path);
            break;
        case block_kind::call:
            allow(o, path, {"id", "kind", "description", "flow", "next"});
            b.flow = required_string(o, "flow", path);
            break;
        case block_kind::request: {
            allow(o, path,
                  {"id", "kind", "description", "method", "url", "headers", "body", "map", "timeout", "next",
                   "on_failure"});
            opt_string("method", b.method);
            if (b.method != "GET" && b.method != "POST" && b.method != "PUT" && b.method != "PATCH" &&
                b.method != "DELETE") {
                throw definition_error(path + ".method", "unknown method \"" + b.method +
                                                             "\"; expected GET, POST, PUT, PATCH or DELETE");
            }
            b.url = required_string(o, "url", path);
            if (b.url.rfind("http://", 0) != 0 && b.url.rfind("https://", 0) != 0) {
                throw definition_error(path + ".url", "expected an http:// or https:// URL");
            }
            check_template(b.url, path + ".url");
            if (const auto* h = o.if_contains("headers")) {
                for (const auto& [name, header] : object(*h, path + ".headers")) {
                    const auto hp = path + ".headers." + std::string(name);
                    b.headers.emplace_back(std::string(name), string(header, hp, true));
                    check_template(b.headers.back().second, hp);
                }
            }
            if (const auto* body = o.if_contains("body")) {
                // An object body is sent as JSON; its strings may hold {{templates}}.
                b.body = body->is_string() ? std::string(body->get_string()) : json::serialize(*body);
                check_template(b.body, path + ".body");
            }
            if (const auto* m = o.if_contains("map")) {
                for (const auto& [field, pointer] : object(*m, path + ".map")) {
                    const auto mp = path + ".map." + std::string(field);
                    check_field(std::string(field), mp);
                    auto ptr = string(pointer, mp, true);
                    if (!ptr.empty() && ptr[0] != '/') {
                        throw definition_error(mp, "expected a JSON pointer such as \"/customer/phone\"");
                    }
                    b.map.emplace_back(std::string(field), std::move(ptr));
                }
            }
            b.timeout = std::chrono::seconds(10);
            if (const auto* t = o.if_contains("timeout")) {
                b.timeout = load_duration(*t, path + ".timeout");
            }
            opt_string("on_failure", b.on_failure);
            break;
        }
        case block_kind::handoff:
            allow(o, path, {"id", "kind", "description", "duration", "next"});
            if (const auto* d = o.if_contains("duration")) {
                b.delay = load_duration(*d, path + ".duration");
            }
            break;
        case block_kind::end:
            allow(o, path, {"id", "kind", "description"});
            break;
        }
        opt_string("next", b.next);
        return b;
    }

    std::vector<std::string> tag_list(const json::object& o, const char* key, const std::string& path) const {
        std::vector<std::string> out;
        if (const auto* v = o.if_contains(key)) {
            out = v->is_string() ? std::vector<std::string>{string(*v, path + "." + key)}
                                 : strings(*v, path + "." + key);
            for (std::size_t i = 0; i < out.size(); ++i) {
                check_tag(out[i], v->is_string() ? path + "." + key : at(path + "." + key, i));
            }
        }
        return out;
    }

    void load_sequences(const json::array& list) {
        std::set<std::string> names;
        for (std::size_t i = 0; i < list.size(); ++i) {
            const auto path = at("$.sequences", i);
            const auto& o = object(list[i], path);
            allow(o, path,
                  {"name", "description", "follows", "window", "steps", "reentry", "max_sends", "end",
                   "skip_if_late"});
            sequence s;
            s.path = path;
            s.name = required_string(o, "name", path);
            if (const auto* late = o.if_contains("skip_if_late")) {
                s.skip_if_late = load_duration(*late, path + ".skip_if_late");
            }
            if (!names.insert(s.name).second) {
                throw definition_error(path + ".name", "duplicate sequence name \"" + s.name + "\"");
            }
            const auto* follows = o.if_contains("follows");
            if (!follows) {
                throw definition_error(path + ".follows", "required: {\"tag\": ...} or {\"segment\": ...}");
            }
            const auto& fo = object(*follows, path + ".follows");
            allow(fo, path + ".follows", {"tag", "segment"});
            if (fo.size() != 1) {
                throw definition_error(path + ".follows", "expected exactly one of: tag, segment");
            }
            if (fo.contains("tag")) {
                s.follows_tag = required_string(fo, "tag", path + ".follows");
                check_tag(s.follows_tag, path + ".follows.tag");
            } else if (const auto name = string(fo.at("segment"), path + ".follows.segment");
                       std::any_of(out_.segments.begin(), out_.segments.end(),
                                   [&](const segment_definition& sd) { return sd.name == name; })) {
                // A declared segment by name: the sequence follows its kept membership, which
                // also moves with the clock (re-check timers).
                s.follows_named_segment = name;
            } else {
                const auto sp = path + ".follows.segment";
                try {
                    s.follows_segment = expression::parse(string(fo.at("segment"), sp));
                } catch (const syntax_error& e) {
                    throw definition_error(sp, e.what());
                }
                for (const auto& tag : s.follows_segment.referenced_tags()) {
                    check_tag(tag, sp);
                }
                for (const auto& field : s.follows_segment.referenced_fields()) {
                    check_field(field, sp);
                }
            }
            if (const auto* w = o.if_contains("window")) {
                const auto wp = path + ".window";
                const auto& wo = object(*w, wp);
                allow(wo, wp, {"from", "to", "weekdays"});
                try {
                    std::vector<int> days;
                    if (const auto* d = wo.if_contains("weekdays")) {
                        const auto& arr = array(*d, wp + ".weekdays");
                        for (std::size_t k = 0; k < arr.size(); ++k) {
                            if (!arr[k].is_int64() || arr[k].get_int64() < 1 || arr[k].get_int64() > 7) {
                                throw definition_error(at(wp + ".weekdays", k),
                                                       "expected an ISO weekday 1 (Monday) to 7 (Sunday)");
                            }
                            days.push_back(static_cast<int>(arr[k].get_int64()));
                        }
                    }
                    s.window = send_window(parse_clock_time(required_string(wo, "from", wp)),
                                           parse_clock_time(required_string(wo, "to", wp)), std::move(days));
                } catch (const definition_error&) {
                    throw;
                } catch (const error& e) {
                    throw definition_error(wp, e.what());
                }
            }
            if (const auto* r = o.if_contains("reentry")) {
                const auto rp = path + ".reentry";
                const auto& ro = object(*r, rp);
                allow(ro, rp, {"policy", "within"});
                const auto policy = required_string(ro, "policy", rp);
                if (policy == "ignore") {
                    s.reentry_restart = false;
                    if (!ro.contains("within")) {
                        throw definition_error(rp + ".within",
                                               "required for policy \"ignore\", e.g. \"30d\"");
                    }
                    s.reentry_within = load_duration(ro.at("within"), rp + ".within");
                } else if (policy != "restart") {
                    throw definition_error(rp + ".policy",
                                           "unknown policy \"" + policy + "\"; expected restart or ignore");
                }
            }
            if (const auto* m = o.if_contains("max_sends")) {
                if (!m->is_int64() || m->get_int64() < 0 || m->get_int64() > 1000) {
                    throw definition_error(path + ".max_sends", "expected an integer from 0 to 1000");
                }
                s.max_sends = static_cast<int>(m->get_int64());
            }
            if (const auto* e = o.if_contains("end")) {
                const auto& eo = object(*e, path + ".end");
                allow(eo, path + ".end", {"add_tags", "remove_tags"});
                s.end_add_tags = tag_list(eo, "add_tags", path + ".end");
                s.end_remove_tags = tag_list(eo, "remove_tags", path + ".end");
            }
            const auto* steps = o.if_contains("steps");
            if (!steps) {
                throw definition_error(path + ".steps", "required; expected an array of steps");
            }
            const auto& sl = array(*steps, path + ".steps");
            if (sl.empty()) {
                throw definition_error(path + ".steps", "a sequence needs at least one step");
            }
            for (std::size_t k = 0; k < sl.size(); ++k) {
                s.steps.push_back(load_step(sl[k], at(path + ".steps", k)));
            }
            out_.sequences.push_back(std::move(s));
        }
    }

    sequence_step load_step(const json::value& v, const std::string& path) const {
        const auto& o = object(v, path);
        allow(o, path,
              {"after", "from", "send", "send_form", "add_tags", "remove_tags", "start_flow", "description"});
        sequence_step st;
        st.path = path;
        const auto* after = o.if_contains("after");
        if (!after) {
            throw definition_error(path + ".after", "required, e.g. \"24h\"");
        }
        st.after = load_duration(*after, path + ".after");
        if (const auto* from = o.if_contains("from")) {
            const auto f = string(*from, path + ".from");
            if (f != "entry" && f != "previous") {
                throw definition_error(path + ".from", "expected \"entry\" or \"previous\"");
            }
            st.from_previous = f == "previous";
        }
        int kinds = 0;
        if (const auto* send = o.if_contains("send")) {
            ++kinds;
            st.what = sequence_step::kind::send;
            if (send->is_string()) {
                st.text = string(*send, path + ".send");
            } else {
                const auto& so = object(*send, path + ".send");
                allow(so, path + ".send", {"text", "purpose"});
                st.text = required_string(so, "text", path + ".send");
                if (so.contains("purpose")) {
                    st.purpose = string(so.at("purpose"), path + ".send.purpose");
                    if (st.purpose != "reply" && st.purpose != "transactional" &&
                        st.purpose != "promotional") {
                        throw definition_error(path + ".send.purpose",
                                               "unknown purpose \"" + st.purpose +
                                                   "\"; expected reply, transactional or promotional");
                    }
                }
            }
            check_template(st.text, path + ".send");
        }
        if (const auto* sf = o.if_contains("send_form")) {
            ++kinds;
            st.what = sequence_step::kind::send_form;
            const auto sp = path + ".send_form";
            const auto& so = object(*sf, sp);
            allow(so, sp, {"flow", "block"});
            st.flow = required_string(so, "flow", sp);
            st.block = required_string(so, "block", sp);
            const auto fl = std::find_if(out_.flows.begin(), out_.flows.end(),
                                         [&](const flow& f) { return f.name == st.flow; });
            if (fl == out_.flows.end()) {
                throw definition_error(sp + ".flow", "flow \"" + st.flow + "\" is not declared in $.flows");
            }
            const auto* b = fl->find(st.block);
            if (!b || b->kind != block_kind::form) {
                throw definition_error(sp + ".block",
                                       "no form block \"" + st.block + "\" in flow \"" + st.flow + "\"");
            }
        }
        if (o.contains("add_tags") || o.contains("remove_tags")) {
            ++kinds;
            st.what = sequence_step::kind::tags;
            st.add_tags = tag_list(o, "add_tags", path);
            st.remove_tags = tag_list(o, "remove_tags", path);
        }
        if (const auto* f = o.if_contains("start_flow")) {
            ++kinds;
            st.what = sequence_step::kind::start_flow;
            st.flow = string(*f, path + ".start_flow");
            check_flow(st.flow, path + ".start_flow");
        }
        if (kinds != 1) {
            throw definition_error(
                path, "a step does exactly one of: send, send_form, add_tags/remove_tags, start_flow");
        }
        return st;
    }

    std::vector<action> load_actions(const json::object& o, const std::string& path, bool may_delay) const {
        const auto* then = o.if_contains("then");
        if (!then) {
            throw definition_error(path + ".then", "required; expected an array of actions");
        }
        const auto& list = array(*then, path + ".then");
        if (list.empty()) {
            throw definition_error(path + ".then", "needs at least one action");
        }
        std::vector<action> out;
        for (std::size_t j = 0; j < list.size(); ++j) {
            out.push_back(load_action(list[j], at(path + ".then", j), may_delay));
        }
        return out;
    }

    // $.policies holds profiles the document writes itself; $.channels picks one per channel.
    void load_channels(const json::object& doc) {
        std::map<std::string, policy_profile, std::less<>> own;
        if (const auto* policies = doc.if_contains("policies")) {
            for (const auto& [name, v] : object(*policies, "$.policies")) {
                const auto path = "$.policies." + std::string(name);
                own.emplace(std::string(name), detail::parse_policy_profile(v, std::string(name), path));
            }
        }
        const auto* channels = doc.if_contains("channels");
        if (!channels) {
            return;
        }
        for (const auto& [channel, v] : object(*channels, "$.channels")) {
            const auto path = "$.channels." + std::string(channel);
            const auto& o = object(v, path);
            allow(o, path, {"policy"});
            const auto name = required_string(o, "policy", path);
            if (name == "none") {
                continue;
            }
            if (auto it = own.find(name); it != own.end()) {
                out_.channel_policies.emplace(std::string(channel), it->second);
            } else if (const auto* builtin = builtin_policy(name)) {
                out_.channel_policies.emplace(std::string(channel), *builtin);
            } else {
                std::string known;
                for (const auto& n : builtin_policy_names()) {
                    known += known.empty() ? "" : ", ";
                    known += n;
                }
                throw definition_error(path + ".policy", "unknown policy \"" + name +
                                                             "\"; expected one in $.policies, a built-in (" +
                                                             known + ") or \"none\"");
            }
        }
    }

    void load_segments(const json::array& list) {
        std::set<std::string> names;
        for (std::size_t i = 0; i < list.size(); ++i) {
            const auto path = at("$.segments", i);
            const auto& o = object(list[i], path);
            allow(o, path, {"name", "description", "if", "recheck"});
            segment_definition seg;
            seg.path = path;
            seg.name = required_string(o, "name", path);
            if (!names.insert(seg.name).second) {
                throw definition_error(path + ".name", "duplicate segment name \"" + seg.name + "\"");
            }
            const auto text = required_string(o, "if", path);
            try {
                seg.condition = expression::parse(text);
            } catch (const syntax_error& e) {
                throw definition_error(path + ".if", e.what());
            }
            for (const auto& tag : seg.condition.referenced_tags()) {
                check_tag(tag, path + ".if");
            }
            for (const auto& field : seg.condition.referenced_fields()) {
                check_field(field, path + ".if");
            }
            if (const auto* r = o.if_contains("recheck")) {
                seg.recheck = load_duration(*r, path + ".recheck");
            } else if (text.find("days_since_") != std::string::npos) {
                // The clock moves membership without any event: look again daily by default.
                seg.recheck = std::chrono::hours(24);
            }
            out_.segments.push_back(std::move(seg));
        }
    }

    void load_caps(const json::array& list) {
        for (std::size_t i = 0; i < list.size(); ++i) {
            const auto path = at("$.caps", i);
            const auto& o = object(list[i], path);
            allow(o, path, {"purpose", "max", "per"});
            frequency_cap cap;
            cap.purpose = required_string(o, "purpose", path);
            if (cap.purpose != "promotional") {
                throw definition_error(path + ".purpose",
                                       "only \"promotional\" messages can be capped; replies and "
                                       "transactional messages are exempt");
            }
            const auto* max = o.if_contains("max");
            if (!max || !max->is_int64() || max->get_int64() < 1 || max->get_int64() > 1000) {
                throw definition_error(path + ".max", "required: an integer from 1 to 1000");
            }
            cap.max = static_cast<int>(max->get_int64());
            if (!o.contains("per")) {
                throw definition_error(path + ".per", "required, e.g. \"24h\"");
            }
            cap.per = load_duration(o.at("per"), path + ".per");
            out_.caps.push_back(cap);
        }
    }

    void load_dates(const json::array& list) {
        std::set<std::string> names;
        for (std::size_t i = 0; i < list.size(); ++i) {
            const auto path = at("$.dates", i);
            const auto& o = object(list[i], path);
            allow(o, path, {"name", "description", "field", "at", "years", "then"});
            date_trigger d;
            d.path = path;
            d.name = required_string(o, "name", path);
            if (!names.insert(d.name).second) {
                throw definition_error(path + ".name", "duplicate date trigger name \"" + d.name + "\"");
            }
            d.field = required_string(o, "field", path);
            if (d.field != "first_order") {
                const auto def = std::find_if(out_.fields.begin(), out_.fields.end(),
                                              [&](const field_definition& f) { return f.name == d.field; });
                if (def == out_.fields.end() || def->type != field_type::date) {
                    throw definition_error(path + ".field",
                                           "\"" + d.field +
                                               "\" is not a declared date field (or \"first_order\")");
                }
            }
            if (const auto* t = o.if_contains("at")) {
                try {
                    d.at = parse_clock_time(string(*t, path + ".at"));
                } catch (const error& e) {
                    throw definition_error(path + ".at", e.what());
                }
            }
            if (const auto* y = o.if_contains("years")) {
                const auto& ys = array(*y, path + ".years");
                for (std::size_t k = 0; k < ys.size(); ++k) {
                    if (!ys[k].is_int64() || ys[k].get_int64() < 1 || ys[k].get_int64() > 200) {
                        throw definition_error(at(path + ".years", k),
                                               "expected a number of years from 1 to 200");
                    }
                    d.years.push_back(static_cast<int>(ys[k].get_int64()));
                }
                std::sort(d.years.begin(), d.years.end());
            }
            d.then = load_actions(o, path, false);
            out_.dates.push_back(std::move(d));
        }
    }

    void load_rules(const json::array& rules) {
        std::set<std::string> names;
        for (std::size_t i = 0; i < rules.size(); ++i) {
            const auto path = at("$.rules", i);
            const auto& o = object(rules[i], path);
            allow(o, path, {"name", "description", "when", "filter", "if", "then", "once"});
            rule r;
            r.path = path;
            r.name = required_string(o, "name", path);
            if (!names.insert(r.name).second) {
                throw definition_error(path + ".name", "duplicate rule name \"" + r.name + "\"");
            }
            const auto when = required_string(o, "when", path);
            const auto* t = std::find_if(trigger_names.begin(), trigger_names.end(),
                                         [&](const auto& p) { return p.second == when; });
            if (t == trigger_names.end()) {
                std::string list;
                for (const auto& p : trigger_names) {
                    list += list.empty() ? "" : ", ";
                    list += p.second;
                }
                throw definition_error(path + ".when",
                                       "unknown trigger \"" + when + "\"; expected one of: " + list);
            }
            r.when = t->first;
            if (const auto* f = o.if_contains("filter")) {
                r.filter = load_filter(r.when, object(*f, path + ".filter"), path + ".filter");
            } else if (r.when == trigger::inactive) {
                throw definition_error(path + ".filter", "required: {\"for\": \"30d\"}");
            }
            if (const auto* c = o.if_contains("if")) {
                const auto source = string(*c, path + ".if");
                try {
                    r.condition = expression::parse(source);
                } catch (const syntax_error& e) {
                    throw definition_error(path + ".if", e.what());
                }
                for (const auto& tag : r.condition.referenced_tags()) {
                    check_tag(tag, path + ".if");
                }
                for (const auto& field : r.condition.referenced_fields()) {
                    check_field(field, path + ".if");
                }
            }
            if (const auto* once = o.if_contains("once")) {
                if (!once->is_bool()) {
                    throw definition_error(path + ".once",
                                           "expected a bool, got " + detail::json_kind_name(*once));
                }
                r.once = once->get_bool();
            }
            const auto* then = o.if_contains("then");
            if (!then) {
                throw definition_error(path + ".then", "required; expected an array of actions");
            }
            const auto& actions = array(*then, path + ".then");
            if (actions.empty()) {
                throw definition_error(path + ".then", "a rule needs at least one action");
            }
            for (std::size_t j = 0; j < actions.size(); ++j) {
                r.actions.push_back(load_action(actions[j], at(path + ".then", j)));
            }
            out_.rules.push_back(std::move(r));
        }
    }

    rule_filter load_filter(trigger when, const json::object& o, const std::string& path) const {
        rule_filter f;
        switch (when) {
        case trigger::message_received:
        case trigger::first_message:
        case trigger::returning_message: {
            allow(o, path, {"keywords", "contains", "regex"});
            if (o.size() != 1) {
                throw definition_error(path, "expected exactly one of: keywords, contains, regex");
            }
            try {
                if (const auto* k = o.if_contains("keywords")) {
                    std::vector<std::string> words;
                    const auto& list = array(*k, path + ".keywords");
                    for (std::size_t i = 0; i < list.size(); ++i) {
                        words.push_back(string(list[i], at(path + ".keywords", i)));
                    }
                    f.text = text_filter::keywords(std::move(words));
                } else if (const auto* c = o.if_contains("contains")) {
                    f.text = text_filter::contains(string(*c, path + ".contains"));
                } else {
                    f.text = text_filter::regex(string(o.at("regex"), path + ".regex"));
                }
            } catch (const definition_error&) {
                throw;
            } catch (const error& e) {
                throw definition_error(path + "." + std::string(o.begin()->key()), e.what());
            }
            break;
        }
        case trigger::postback:
            allow(o, path, {"payload"});
            f.payload = required_string(o, "payload", path);
            break;
        case trigger::form_opened:
        case trigger::form_submitted:
            allow(o, path, {"form"});
            f.form = required_string(o, "form", path);
            break;
        case trigger::order_placed:
            allow(o, path, {"item"});
            f.item = required_string(o, "item", path);
            break;
        case trigger::tag_added:
        case trigger::tag_removed:
            allow(o, path, {"tag"});
            f.tag = required_string(o, "tag", path);
            check_tag(f.tag, path + ".tag");
            break;
        case trigger::lifecycle_changed: {
            allow(o, path, {"to"});
            const auto to = required_string(o, "to", path);
            f.to = parse_lifecycle(to);
            if (!f.to) {
                throw definition_error(path + ".to", "unknown lifecycle \"" + to +
                                                         "\"; expected stranger, lead or customer");
            }
            break;
        }
        case trigger::track:
            allow(o, path, {"name"});
            f.name = required_string(o, "name", path);
            break;
        case trigger::inactive:
            allow(o, path, {"for"});
            if (!o.contains("for")) {
                throw definition_error(path + ".for", "required, e.g. \"30d\"");
            }
            f.inactive_for = load_duration(o.at("for"), path + ".for");
            break;
        case trigger::segment_entered:
        case trigger::segment_left:
            allow(o, path, {"segment"});
            f.segment = required_string(o, "segment", path);
            if (std::none_of(out_.segments.begin(), out_.segments.end(),
                             [&](const segment_definition& sd) { return sd.name == f.segment; })) {
                throw definition_error(path + ".segment",
                                       "segment \"" + f.segment + "\" is not declared in $.segments");
            }
            break;
        case trigger::message_sent:
        case trigger::message_delivered:
        case trigger::message_read:
        case trigger::message_clicked:
        case trigger::message_failed:
        case trigger::message_blocked:
            allow(o, path, {"cause"});
            if (o.contains("cause")) {
                f.cause = required_string(o, "cause", path);
            }
            break;
        default:
            if (!o.empty()) {
                throw definition_error(path + "." + std::string(o.begin()->key()),
                                       "trigger \"" + std::string(to_string(when)) + "\" takes no filter");
            }
        }
        return f;
    }

    static std::string load_purpose(const json::value& v, const std::string& path) {
        auto purpose = string(v, path);
        if (purpose != "reply" && purpose != "transactional" && purpose != "promotional") {
            throw definition_error(path, "unknown purpose \"" + purpose +
                                             "\"; expected reply, transactional or promotional");
        }
        return purpose;
    }

    // "template", "template_params" and "channel_tag" of a send: what only some channels use.
    void load_channel_specifics(const json::object& o, const std::string& path, std::string& template_name,
                                std::vector<std::string>& params, std::string& channel_tag,
                                std::vector<std::string>& channels) const {
        if (const auto* cs = o.if_contains("channels")) {
            channels = strings(*cs, path + ".channels");
            if (channels.empty()) {
                throw definition_error(path + ".channels", "must name at least one channel");
            }
        }
        if (const auto* t = o.if_contains("template")) {
            template_name = string(*t, path + ".template");
        }
        if (const auto* ps = o.if_contains("template_params")) {
            params = strings(*ps, path + ".template_params");
            for (std::size_t i = 0; i < params.size(); ++i) {
                check_template(params[i], at(path + ".template_params", i));
            }
        }
        if (const auto* tag = o.if_contains("channel_tag")) {
            channel_tag = string(*tag, path + ".channel_tag");
        }
    }

    action load_action(const json::value& v, const std::string& path, bool may_delay = true) const {
        const auto& o = object(v, path);
        if (o.size() != 1) {
            throw definition_error(path, "an action is an object with exactly one of: " +
                                             join({"add_tag", "remove_tag", "set_field", "clear_field",
                                                   "add_note", "send", "start_flow", "later"}));
        }
        allow(
            o, path,
            {"add_tag", "remove_tag", "set_field", "clear_field", "add_note", "send", "start_flow", "later"});
        const auto& [key, body] = *o.begin();
        const std::string sub = path + "." + std::string(key);
        action a;
        if (key == "add_tag" || key == "remove_tag") {
            a.what = key == "add_tag" ? action::kind::add_tag : action::kind::remove_tag;
            a.tag = string(body, sub);
            check_tag(a.tag, sub);
        } else if (key == "set_field") {
            a.what = action::kind::set_field;
            const auto& so = object(body, sub);
            allow(so, sub, {"field", "value"});
            a.field = required_string(so, "field", sub);
            check_field(a.field, sub + ".field");
            const auto* val = so.if_contains("value");
            if (!val) {
                throw definition_error(sub + ".value", "required");
            }
            if (val->is_string()) {
                a.value = std::string(val->get_string());
                check_template(a.value, sub + ".value");
            } else if (val->is_number() || val->is_bool()) {
                a.value = detail::scalar_text(*val);
            } else {
                throw definition_error(sub + ".value", "expected a string, number or bool, got " +
                                                           detail::json_kind_name(*val));
            }
        } else if (key == "clear_field") {
            a.what = action::kind::clear_field;
            a.field = string(body, sub);
            check_field(a.field, sub);
        } else if (key == "later") {
            if (!may_delay) {
                throw definition_error(sub,
                                       "delayed actions cannot be nested or used here; only a rule's own "
                                       "actions may be delayed");
            }
            a.what = action::kind::later;
            const auto& lo = object(body, sub);
            allow(lo, sub, {"after", "unless", "then"});
            if (!lo.contains("after")) {
                throw definition_error(sub + ".after", "required, e.g. \"3d\"");
            }
            a.delay = load_duration(lo.at("after"), sub + ".after");
            if (const auto* u = lo.if_contains("unless")) {
                try {
                    a.unless = expression::parse(string(*u, sub + ".unless"));
                } catch (const syntax_error& e) {
                    throw definition_error(sub + ".unless", e.what());
                }
                for (const auto& tag : a.unless.referenced_tags()) {
                    check_tag(tag, sub + ".unless");
                }
                for (const auto& field : a.unless.referenced_fields()) {
                    check_field(field, sub + ".unless");
                }
            }
            a.then = load_actions(lo, sub, false);
        } else if (key == "start_flow") {
            a.what = action::kind::start_flow;
            a.flow = string(body, sub);
            check_flow(a.flow, sub);
        } else if (key == "add_note") {
            a.what = action::kind::add_note;
            a.text = string(body, sub);
            check_template(a.text, sub);
        } else {
            a.what = action::kind::send;
            if (body.is_string()) {
                a.text = string(body, sub);
            } else {
                const auto& so = object(body, sub);
                allow(so, sub, {"text", "purpose", "template", "template_params", "channel_tag", "channels"});
                a.text = required_string(so, "text", sub);
                if (so.contains("purpose")) {
                    a.purpose = load_purpose(so.at("purpose"), sub + ".purpose");
                }
                load_channel_specifics(so, sub, a.template_name, a.template_params, a.channel_tag,
                                       a.channels);
            }
            check_template(a.text, sub + (body.is_string() ? "" : ".text"));
        }
        return a;
    }

    definitions::data& out_;
};

} // namespace

std::string_view to_string(trigger t) noexcept {
    for (const auto& [k, name] : trigger_names) {
        if (k == t) {
            return name;
        }
    }
    return "unknown";
}

bool is_profile_field(std::string_view name) noexcept {
    return std::any_of(profile_fields.begin(), profile_fields.end(),
                       [&](const auto& p) { return p.first == name; });
}

definitions::definitions() : data_(std::make_shared<const data>()) {}

definitions definitions::parse(std::string_view text) {
    boost::system::error_code ec;
    json::parse_options opts;
    opts.allow_comments = false;
    auto root = json::parse(text, ec, {}, opts);
    if (ec) {
        throw definition_error("$", "malformed JSON: " + ec.message());
    }
    auto d = std::make_shared<data>();
    loader{*d}.load(root);
    d->source = json::serialize(root);
    definitions out;
    out.data_ = std::move(d);
    return out;
}

definitions definitions::load_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw error(errc::not_found, "cannot read definitions file " + file.string());
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return parse(buffer.str());
}

int definitions::schema_version() const noexcept {
    return data_->schema;
}
const std::vector<tag_definition>& definitions::tags() const noexcept {
    return data_->tags;
}
const std::vector<field_definition>& definitions::fields() const noexcept {
    return data_->fields;
}
const std::vector<rule>& definitions::rules() const noexcept {
    return data_->rules;
}
const std::vector<flow>& definitions::flows() const noexcept {
    return data_->flows;
}
const std::vector<sequence>& definitions::sequences() const noexcept {
    return data_->sequences;
}
const std::vector<date_trigger>& definitions::dates() const noexcept {
    return data_->dates;
}
const std::vector<frequency_cap>& definitions::caps() const noexcept {
    return data_->caps;
}

const std::vector<segment_definition>& definitions::segments() const noexcept {
    return data_->segments;
}

const segment_definition* definitions::find_segment(std::string_view name) const noexcept {
    for (const auto& s : data_->segments) {
        if (s.name == name) {
            return &s;
        }
    }
    return nullptr;
}

const policy_profile* definitions::channel_policy(std::string_view channel) const noexcept {
    const auto it = data_->channel_policies.find(channel);
    return it == data_->channel_policies.end() ? nullptr : &it->second;
}

const std::map<std::string, policy_profile, std::less<>>& definitions::channel_policies() const noexcept {
    return data_->channel_policies;
}

const rule* definitions::find_rule(std::string_view name) const noexcept {
    for (const auto& r : data_->rules) {
        if (r.name == name) {
            return &r;
        }
    }
    return nullptr;
}

const flow* definitions::find_flow(std::string_view name) const noexcept {
    for (const auto& f : data_->flows) {
        if (f.name == name) {
            return &f;
        }
    }
    return nullptr;
}

const block* flow::find(std::string_view id) const noexcept {
    for (const auto& b : blocks) {
        if (b.id == id) {
            return &b;
        }
    }
    return nullptr;
}

std::string_view to_string(block_kind kind) noexcept {
    switch (kind) {
    case block_kind::send:
        return "send";
    case block_kind::ask:
        return "ask";
    case block_kind::form:
        return "form";
    case block_kind::condition:
        return "condition";
    case block_kind::tag:
        return "tag";
    case block_kind::set_field:
        return "set_field";
    case block_kind::wait:
        return "wait";
    case block_kind::randomizer:
        return "randomizer";
    case block_kind::go_to:
        return "go_to";
    case block_kind::call:
        return "call";
    case block_kind::handoff:
        return "handoff";
    case block_kind::request:
        return "request";
    case block_kind::end:
        return "end";
    }
    return "end";
}
const std::string& definitions::source() const noexcept {
    return data_->source;
}

const field_definition* definitions::find_field(std::string_view name) const noexcept {
    for (const auto& f : data_->fields) {
        if (f.name == name) {
            return &f;
        }
    }
    return nullptr;
}

bool definitions::has_tag(std::string_view name) const noexcept {
    return std::any_of(data_->tags.begin(), data_->tags.end(), [&](const auto& t) { return t.name == name; });
}

} // namespace tagflow
