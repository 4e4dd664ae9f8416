#include <tagflow/definitions.hpp>
#include <tagflow/error.hpp>

#include "detail/codec.hpp"
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
    std::string source = "{\"schema\":1}";
};

namespace {

constexpr std::array<std::pair<trigger, std::string_view>, 14> trigger_names{{
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

std::string kind_of(const json::value& v) {
    switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a bool";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
    }
    return "a value";
}

// Walks the document, building JSON paths for every message.
class loader {
public:
    explicit loader(definitions::data& out) : out_(out) {}

    void load(const json::value& root) {
        const auto& doc = object(root, "$");
        allow(doc, "$", {"schema", "tags", "fields", "rules"});
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
        if (const auto* rules = doc.if_contains("rules")) {
            load_rules(array(*rules, "$.rules"));
        }
    }

private:
    static const json::object& object(const json::value& v, const std::string& path) {
        if (!v.is_object()) {
            throw definition_error(path, "expected an object, got " + kind_of(v));
        }
        return v.get_object();
    }
    static const json::array& array(const json::value& v, const std::string& path) {
        if (!v.is_array()) {
            throw definition_error(path, "expected an array, got " + kind_of(v));
        }
        return v.get_array();
    }
    static std::string string(const json::value& v, const std::string& path, bool allow_empty = false) {
        if (!v.is_string()) {
            throw definition_error(path, "expected a string, got " + kind_of(v));
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
    static void allow(const json::object& o, const std::string& path, std::initializer_list<std::string_view> keys) {
        for (const auto& [k, v] : o) {
            if (std::find(keys.begin(), keys.end(), std::string_view(k)) == keys.end()) {
                throw definition_error(path + "." + std::string(k), "unknown key; expected one of: " + join(keys));
            }
        }
    }
    static std::string at(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

    void load_tags(const json::array& tags) {
        std::set<std::string> seen;
        for (std::size_t i = 0; i < tags.size(); ++i) {
            const auto path = at("$.tags", i);
            tag_definition t;
            if (tags[i].is_string()) {
                t.name = string(tags[i], path);
            } else {
                if (!tags[i].is_object()) {
                    throw definition_error(path, "expected a tag name or an object, got " + kind_of(tags[i]));
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
                std::all_of(f.name.begin(), f.name.end(),
                            [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }) &&
                !(f.name[0] >= '0' && f.name[0] <= '9');
            if (!identifier) {
                throw definition_error(path + ".name", "\"" + f.name +
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
                    throw definition_error(path + ".type", "\"" + f.name + "\" is a built-in profile field of type " +
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
        return is_profile_field(name) ||
               std::any_of(out_.fields.begin(), out_.fields.end(), [&](const auto& f) { return f.name == name; });
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
                throw definition_error(path + ".when", "unknown trigger \"" + when + "\"; expected one of: " + list);
            }
            r.when = t->first;
            if (const auto* f = o.if_contains("filter")) {
                r.filter = load_filter(r.when, object(*f, path + ".filter"), path + ".filter");
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
                    throw definition_error(path + ".once", "expected a bool, got " + kind_of(*once));
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
                throw definition_error(path + ".to",
                                       "unknown lifecycle \"" + to + "\"; expected stranger, lead or customer");
            }
            break;
        }
        case trigger::track:
            allow(o, path, {"name"});
            f.name = required_string(o, "name", path);
            break;
        default:
            if (!o.empty()) {
                throw definition_error(path + "." + std::string(o.begin()->key()),
                                       "trigger \"" + std::string(to_string(when)) + "\" takes no filter");
            }
        }
        return f;
    }

    action load_action(const json::value& v, const std::string& path) const {
        const auto& o = object(v, path);
        if (o.size() != 1) {
            throw definition_error(path, "an action is an object with exactly one of: " +
                                             join({"add_tag", "remove_tag", "set_field", "clear_field", "add_note",
                                                   "send"}));
        }
        allow(o, path, {"add_tag", "remove_tag", "set_field", "clear_field", "add_note", "send"});
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
                throw definition_error(sub + ".value", "expected a string, number or bool, got " + kind_of(*val));
            }
        } else if (key == "clear_field") {
            a.what = action::kind::clear_field;
            a.field = string(body, sub);
            check_field(a.field, sub);
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
                allow(so, sub, {"text", "purpose"});
                a.text = required_string(so, "text", sub);
                if (so.contains("purpose")) {
                    a.purpose = string(so.at("purpose"), sub + ".purpose");
                    if (a.purpose != "reply" && a.purpose != "transactional" && a.purpose != "promotional") {
                        throw definition_error(sub + ".purpose", "unknown purpose \"" + a.purpose +
                                                                     "\"; expected reply, transactional or "
                                                                     "promotional");
                    }
                }
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
    return std::any_of(profile_fields.begin(), profile_fields.end(), [&](const auto& p) { return p.first == name; });
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

int definitions::schema_version() const noexcept { return data_->schema; }
const std::vector<tag_definition>& definitions::tags() const noexcept { return data_->tags; }
const std::vector<field_definition>& definitions::fields() const noexcept { return data_->fields; }
const std::vector<rule>& definitions::rules() const noexcept { return data_->rules; }
const std::string& definitions::source() const noexcept { return data_->source; }

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
