#include "detail/render.hpp"

#include <kainjow/mustache.hpp>

#include <deque>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tagflow::detail {

namespace mustache = kainjow::mustache;

namespace {

// Parsed templates, per thread: definitions hold a bounded set of texts, and parsing one costs
// far more than rendering it. When the set grows past the cap (texts built at run time), it is
// dropped and refilled, which keeps memory bounded without any bookkeeping per use.
class template_cache {
public:
    mustache::mustache& get(const std::string& text) {
        if (auto found = parsed_.find(text); found != parsed_.end()) {
            return *found->second;
        }
        if (parsed_.size() >= capacity) {
            parsed_.clear();
        }
        auto tmpl = std::make_unique<mustache::mustache>(text);
        // Chat messages, not web pages: values go in as they are.
        tmpl->set_custom_escape([](const std::string& s) { return s; });
        return *parsed_.emplace(text, std::move(tmpl)).first->second;
    }

    static constexpr std::size_t capacity = 1024;

private:
    std::unordered_map<std::string, std::unique_ptr<mustache::mustache>> parsed_;
};

mustache::data of_field(const field_value& f) {
    if (const auto* flag = std::get_if<bool>(&f.data)) {
        // Real booleans, so that "{{#subscribed}}...{{/subscribed}}" is skipped when false.
        return mustache::data{*flag ? mustache::data::type::bool_true : mustache::data::type::bool_false};
    }
    return mustache::data{to_text(f.data)};
}

bool shown(const field_value& f) {
    return std::holds_alternative<bool>(f.data) || !to_text(f.data).empty();
}

// The names a template may use, resolved from the contact only when the template asks for them,
// rather than building every field and attribute for every message. Unknown values stay unset
// rather than "", so "{{^name}}bạn{{/name}}" can stand in for them.
class contact_context final : public mustache::basic_context<std::string> {
public:
    explicit contact_context(const contact& c) : contact_(c) {}

    void push(const mustache::data* data) override { sections_.push_back(data); }
    void pop() override { sections_.pop_back(); }

    const mustache::data* get(const std::string& name) const override {
        if (name == ".") {
            return sections_.empty() ? nullptr : sections_.back();
        }
        const auto dot = name.find('.');
        const std::string head = dot == std::string::npos ? name : name.substr(0, dot);
        // Innermost section first, then the contact, as mustache looks names up.
        for (auto it = sections_.rbegin(); it != sections_.rend(); ++it) {
            if (const auto* found = walk((*it)->get(head), name, dot)) {
                return found;
            }
        }
        return walk(root(head), name, dot);
    }

    const mustache::data* get_partial(const std::string&) const override { return nullptr; }

private:
    // Follows the rest of a dotted name ("fields.size") from the value of its first part.
    static const mustache::data* walk(const mustache::data* from, const std::string& name, std::size_t dot) {
        while (from != nullptr && dot != std::string::npos) {
            const auto next = name.find('.', dot + 1);
            from = from->get(
                name.substr(dot + 1, next == std::string::npos ? std::string::npos : next - dot - 1));
            dot = next;
        }
        return from;
    }

    const mustache::data* root(const std::string& name) const {
        if (auto known = resolved_.find(name); known != resolved_.end()) {
            return known->second;
        }
        const mustache::data* value = resolve(name);
        resolved_.emplace(name, value);
        return value;
    }

    const mustache::data* keep(mustache::data d) const { return &made_.emplace_back(std::move(d)); }

    const mustache::data* text_or_field(const std::string& name, const std::string& text) const {
        if (!text.empty()) {
            return keep(mustache::data{text});
        }
        return field(name);
    }

    const mustache::data* field(const std::string& name) const {
        const auto f = contact_.fields.find(name);
        if (f == contact_.fields.end() || !shown(f->second)) {
            return nullptr;
        }
        return keep(of_field(f->second));
    }

    // Built-in attributes win over a custom field of the same name when they are known.
    const mustache::data* resolve(const std::string& name) const {
        const auto& p = contact_.profile;
        const auto& a = contact_.activity;
        if (name == "fields") {
            mustache::data all{mustache::data::type::object};
            for (const auto& [field_name, f] : contact_.fields) {
                if (shown(f)) {
                    all.set(field_name, of_field(f));
                }
            }
            return keep(std::move(all));
        }
        // The profile's texts by the names templates use for them.
        static constexpr std::pair<std::string_view, std::string profile::*> profile_texts[] = {
            {"name", &profile::name},     {"phone", &profile::phone},
            {"email", &profile::email},   {"timezone", &profile::time_zone},
            {"locale", &profile::locale}, {"customer_id", &profile::customer_id}};
        for (const auto& [key, member] : profile_texts) {
            if (name == key) {
                return text_or_field(name, p.*member);
            }
        }
        if (name == "type") {
            return text_or_field(name, std::string(to_string(contact_.stage)));
        }
        if (name == "orders") {
            return text_or_field(name, std::to_string(a.orders));
        }
        if (name == "total_spent") {
            return text_or_field(name, to_text(a.total_spent));
        }
        if (name == "last_product") {
            return text_or_field(name, a.last_product);
        }
        return field(name);
    }

    const contact& contact_;
    std::vector<const mustache::data*> sections_;
    // Values made for this render; a deque, so pointers handed to the renderer stay valid.
    mutable std::deque<mustache::data> made_;
    mutable std::unordered_map<std::string, const mustache::data*> resolved_;
};

// The renderer writes through `<<`; this appends to a string instead of an ostringstream.
struct text_sink {
    std::string text;
    text_sink& operator<<(const std::string& s) {
        text += s;
        return *this;
    }
};

} // namespace

std::optional<std::string> template_error(const std::string& text) {
    mustache::mustache tmpl{text};
    if (tmpl.is_valid()) {
        return std::nullopt;
    }
    return tmpl.error_message();
}

std::string render_template(const std::string& text, const contact& c) {
    if (text.find("{{") == std::string::npos) {
        return text; // the common case: no variables, no parse
    }
    thread_local template_cache cache;
    auto& tmpl = cache.get(text);
    if (!tmpl.is_valid()) {
        return {};
    }
    contact_context context{c};
    text_sink sink;
    tmpl.render(context, sink);
    return std::move(sink.text);
}

} // namespace tagflow::detail
