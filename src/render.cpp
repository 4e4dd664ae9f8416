#include "detail/render.hpp"

#include <kainjow/mustache.hpp>

namespace tagflow::detail {

namespace mustache = kainjow::mustache;

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
    mustache::mustache tmpl{text};
    tmpl.set_custom_escape([](const std::string& s) { return s; });
    mustache::data data{mustache::data::type::object};
    mustache::data fields{mustache::data::type::object};
    // Unknown values stay unset rather than "", so "{{^name}}bạn{{/name}}" can stand in for them.
    auto put = [](mustache::data& target, const std::string& key, const std::string& shown) {
        if (!shown.empty()) {
            target.set(key, shown);
        }
    };
    for (const auto& [name, f] : c.fields) {
        if (const auto* flag = std::get_if<bool>(&f.data)) {
            // Real booleans, so that "{{#subscribed}}...{{/subscribed}}" is skipped when false.
            data.set(name, *flag ? mustache::data::type::bool_true : mustache::data::type::bool_false);
            fields.set(name, *flag ? mustache::data::type::bool_true : mustache::data::type::bool_false);
            continue;
        }
        put(data, name, to_text(f.data));
        put(fields, name, to_text(f.data));
    }
    data.set("fields", fields);
    put(data, "name", c.profile.name);
    put(data, "phone", c.profile.phone);
    put(data, "email", c.profile.email);
    put(data, "timezone", c.profile.time_zone);
    put(data, "locale", c.profile.locale);
    put(data, "customer_id", c.profile.customer_id);
    put(data, "type", std::string(to_string(c.stage)));
    put(data, "orders", std::to_string(c.activity.orders));
    put(data, "total_spent", to_text(c.activity.total_spent));
    put(data, "last_product", c.activity.last_product);
    return tmpl.render(data);
}

} // namespace tagflow::detail
