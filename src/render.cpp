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
    for (const auto& [name, f] : c.fields) {
        data.set(name, to_text(f.data));
        fields.set(name, to_text(f.data));
    }
    data.set("fields", fields);
    data.set("name", c.profile.name);
    data.set("phone", c.profile.phone);
    data.set("email", c.profile.email);
    data.set("timezone", c.profile.time_zone);
    data.set("locale", c.profile.locale);
    data.set("customer_id", c.profile.customer_id);
    data.set("type", std::string(to_string(c.stage)));
    data.set("orders", std::to_string(c.activity.orders));
    data.set("total_spent", to_text(c.activity.total_spent));
    data.set("last_product", c.activity.last_product);
    return tmpl.render(data);
}

} // namespace tagflow::detail
