#include <tagflow/contact.hpp>
#include <tagflow/error.hpp>

#include <algorithm>

namespace tagflow {

identity identity::parse(std::string_view text) {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
        throw error(errc::invalid_argument,
                    "invalid identity \"" + std::string(text) + "\": expected channel:external_id");
    }
    return identity{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
}

bool contact::has_tag(std::string_view tag) const {
    return tags.find(std::string(tag)) != tags.end();
}

bool contact::has_identity(const identity& who) const {
    return std::find(identities.begin(), identities.end(), who) != identities.end();
}

value contact::field(std::string_view name) const {
    auto text_or_absent = [](const std::string& s) -> value {
        if (s.empty()) {
            return std::monostate{};
        }
        return s;
    };
    if (name == "name") {
        return text_or_absent(profile.name);
    }
    if (name == "phone") {
        return text_or_absent(profile.phone);
    }
    if (name == "email") {
        return text_or_absent(profile.email);
    }
    if (name == "timezone") {
        return text_or_absent(profile.time_zone);
    }
    if (name == "locale") {
        return text_or_absent(profile.locale);
    }
    if (name == "customer_id") {
        return text_or_absent(profile.customer_id);
    }
    if (auto it = fields.find(std::string(name)); it != fields.end()) {
        return it->second.data;
    }
    return std::monostate{};
}

lifecycle qualified_lifecycle(const profile& p) noexcept {
    if (!p.customer_id.empty()) {
        return lifecycle::customer;
    }
    if (!p.name.empty() && (!p.email.empty() || !p.phone.empty())) {
        return lifecycle::lead;
    }
    return lifecycle::stranger;
}

} // namespace tagflow
