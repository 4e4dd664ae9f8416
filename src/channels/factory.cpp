// Channels from JSON: one settings object (make_channel) or a channels file (load_channels).
#include <tagflow/channels.hpp>

#include "channels/common.hpp"
#include "detail/codec.hpp"

#include <cstdlib>
#include <iostream>
#include <set>

namespace tagflow {

namespace json = boost::json;

namespace {

// Reads one settings object, remembering which keys were used so that a misspelt key is an
// error rather than a silently ignored setting.
class settings_reader {
public:
    settings_reader(const json::object& object, std::string path) : object_(object), path_(std::move(path)) {}

    [[nodiscard]] std::string at(std::string_view key) const { return path_ + "." + std::string(key); }

    [[nodiscard]] bool has(std::string_view key) { return find(key) != nullptr; }

    // A string, or {"env": "NAME"} read from the environment.
    std::string text(std::string_view key, bool required, std::string fallback = {}) {
        const auto* v = find(key);
        if (v == nullptr) {
            if (required) {
                throw definition_error(at(key), "required string is missing");
            }
            return fallback;
        }
        if (v->is_string()) {
            if (required && v->as_string().empty()) {
                throw definition_error(at(key), "must not be empty");
            }
            return std::string(v->as_string());
        }
        if (v->is_object() && v->as_object().size() == 1 && v->as_object().contains("env")) {
            const auto& name = v->as_object().at("env");
            if (!name.is_string() || name.as_string().empty()) {
                throw definition_error(at(key) + ".env", "must be the name of an environment variable");
            }
            const char* env_value = std::getenv(std::string(name.as_string()).c_str());
            if (env_value == nullptr || (required && *env_value == '\0')) {
                throw definition_error(at(key) + ".env", "environment variable " +
                                                             std::string(name.as_string()) + " is not set");
            }
            return env_value;
        }
        throw definition_error(at(key),
                               "must be a string or {\"env\": \"NAME\"}, not " + detail::json_kind_name(*v));
    }

    bool boolean(std::string_view key, bool fallback) {
        const auto* v = find(key);
        if (v == nullptr) {
            return fallback;
        }
        if (!v->is_bool()) {
            throw definition_error(at(key), "must be true or false, not " + detail::json_kind_name(*v));
        }
        return v->as_bool();
    }

    std::size_t count(std::string_view key, std::size_t fallback, std::int64_t minimum = 0) {
        const auto* v = find(key);
        if (v == nullptr) {
            return fallback;
        }
        const auto n = v->is_string() ? std::nullopt : detail::integer_of(v);
        if (!n || *n < minimum) {
            throw definition_error(at(key), "must be an integer >= " + std::to_string(minimum));
        }
        return static_cast<std::size_t>(*n);
    }

    duration timeout(duration fallback) {
        return has("timeout_ms") ? duration(static_cast<duration::rep>(count("timeout_ms", 0, 1))) : fallback;
    }

    channel_capabilities capabilities(channel_capabilities c) {
        c.max_text = count("max_text", c.max_text);
        c.max_buttons = count("max_buttons", c.max_buttons);
        c.max_quick_replies = count("max_quick_replies", c.max_quick_replies);
        c.max_button_title = count("max_button_title", c.max_button_title, 1);
        return c;
    }

    const json::value* raw(std::string_view key) { return find(key); }

    // Every key must have been read.
    void finish() const {
        for (const auto& [key, entry] : object_) {
            if (used_.count(std::string(key)) == 0) {
                throw definition_error(at(key), "unknown setting for this channel type");
            }
        }
    }

private:
    const json::value* find(std::string_view key) {
        used_.insert(std::string(key));
        return object_.if_contains(key);
    }

    const json::object& object_;
    std::string path_;
    std::set<std::string, std::less<>> used_;
};

std::shared_ptr<http_client> client_or_default(std::shared_ptr<http_client>& client) {
    if (!client) {
        client = make_http_client();
    }
    return client;
}

std::unique_ptr<channel> build(const std::string& name, const json::object& object, const std::string& path,
                               std::shared_ptr<http_client>& client) {
    settings_reader in(object, path);
    const std::string type = in.text("type", true);
    std::unique_ptr<channel> out;
    // Settings structs reject empty required values in their constructors with
    // errc::invalid_argument; the reader catches those first, with a path.
    if (type == "zalo_oa") {
        zalo_oa_settings s;
        s.name = name;
        s.access_token = in.text("access_token", true);
        s.app_secret = in.text("app_secret", false);
        s.base_url = in.text("base_url", false, s.base_url);
        s.template_recipient_nested = in.boolean("template_recipient_nested", false);
        if (const auto* params = in.raw("template_params")) {
            if (!params->is_object()) {
                throw definition_error(in.at("template_params"),
                                       "must be an object of template id -> [names]");
            }
            for (const auto& [id, names] : params->as_object()) {
                const std::string where = in.at("template_params") + "." + std::string(id);
                if (!names.is_array()) {
                    throw definition_error(where, "must be an array of parameter names");
                }
                auto& list = s.template_param_names[std::string(id)];
                for (std::size_t i = 0; i < names.as_array().size(); ++i) {
                    const auto& n = names.as_array()[i];
                    if (!n.is_string() || n.as_string().empty()) {
                        throw definition_error(where + "[" + std::to_string(i) + "]",
                                               "must be a non-empty string");
                    }
                    list.emplace_back(n.as_string());
                }
            }
        }
        s.timeout = in.timeout(s.timeout);
        in.finish();
        out = std::make_unique<zalo_oa_channel>(std::move(s), client_or_default(client));
    } else if (type == "messenger") {
        messenger_settings s;
        s.name = name;
        s.page_id = in.text("page_id", true);
        s.access_token = in.text("access_token", true);
        s.app_secret = in.text("app_secret", false);
        s.version = in.text("version", false, s.version);
        s.base_url = in.text("base_url", false, s.base_url);
        s.timeout = in.timeout(s.timeout);
        in.finish();
        out = std::make_unique<messenger_channel>(std::move(s), client_or_default(client));
    } else if (type == "whatsapp") {
        whatsapp_settings s;
        s.name = name;
        s.phone_number_id = in.text("phone_number_id", true);
        s.access_token = in.text("access_token", true);
        s.version = in.text("version", false, s.version);
        s.template_language = in.text("template_language", false, s.template_language);
        s.base_url = in.text("base_url", false, s.base_url);
        s.timeout = in.timeout(s.timeout);
        in.finish();
        out = std::make_unique<whatsapp_channel>(std::move(s), client_or_default(client));
    } else if (type == "telegram") {
        telegram_settings s;
        s.name = name;
        s.bot_token = in.text("bot_token", true);
        s.base_url = in.text("base_url", false, s.base_url);
        s.timeout = in.timeout(s.timeout);
        in.finish();
        out = std::make_unique<telegram_channel>(std::move(s), client_or_default(client));
    } else if (type == "webhook") {
        webhook_channel_settings s;
        s.name = name;
        s.url = in.text("url", true);
        if (s.url.rfind("http://", 0) != 0 && s.url.rfind("https://", 0) != 0) {
            throw definition_error(in.at("url"), "must start with http:// or https://");
        }
        s.secret = in.text("secret", true);
        s.capabilities = in.capabilities(s.capabilities);
        s.timeout = in.timeout(s.timeout);
        in.finish();
        out = std::make_unique<webhook_channel>(std::move(s), client_or_default(client));
    } else if (type == "sms") {
        sms_gateway_settings s;
        s.name = name;
        s.api_key = in.text("api_key", true);
        s.secret_key = in.text("secret_key", true);
        s.brandname = in.text("brandname", true);
        s.base_url = in.text("base_url", false, s.base_url);
        s.path = in.text("path", false, s.path);
        s.sms_type = in.text("sms_type", false, s.sms_type);
        s.callback_url = in.text("callback_url", false);
        s.sandbox = in.boolean("sandbox", false);
        s.max_text = in.count("max_text", s.max_text, 10);
        s.timeout = in.timeout(s.timeout);
        in.finish();
        out = std::make_unique<sms_gateway_channel>(std::move(s), client_or_default(client));
    } else if (type == "email") {
        email_gateway_settings s;
        s.name = name;
        s.base_url = in.text("base_url", true);
        s.api_key = in.text("api_key", true);
        s.from = in.text("from", true);
        s.subject = in.text("subject", false);
        s.unsubscribe_url = in.text("unsubscribe_url", false);
        s.unsubscribe_mailto = in.text("unsubscribe_mailto", false);
        s.unsubscribe_secret = in.text("unsubscribe_secret", false);
        if (s.unsubscribe_url.find("{{token}}") != std::string::npos && s.unsubscribe_secret.empty()) {
            throw definition_error(in.at("unsubscribe_secret"),
                                   "required when unsubscribe_url uses {{token}}");
        }
        s.timeout = in.timeout(s.timeout);
        in.finish();
        out = std::make_unique<email_gateway_channel>(std::move(s), client_or_default(client));
    } else if (type == "memory" || type == "console") {
        const auto caps = in.capabilities(channel_capabilities{});
        const std::string policy = in.text("policy", false);
        if (type == "memory") {
            in.finish();
            out = std::make_unique<memory_channel>(name, caps, policy);
        } else {
            in.finish();
            if (!policy.empty()) {
                throw definition_error(in.at("policy"), "a console channel has no policy profile");
            }
            out = std::make_unique<console_channel>(name, std::cout, caps);
        }
    } else {
        throw definition_error(in.at("type"), "unknown channel type \"" + type +
                                                  "\" (zalo_oa, messenger, whatsapp, telegram, webhook, sms, "
                                                  "email, memory, console)");
    }
    return out;
}

json::value parse_document(std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec) {
        throw definition_error("$", "not valid JSON: " + ec.message());
    }
    return v;
}

bool valid_channel_name(std::string_view name) {
    if (name.empty()) {
        return false;
    }
    for (const char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

} // namespace

std::unique_ptr<channel> make_channel(std::string_view name, std::string_view settings_json,
                                      std::shared_ptr<http_client> client) {
    const auto doc = parse_document(settings_json);
    if (!doc.is_object()) {
        throw definition_error("$", "channel settings must be an object, not " + detail::json_kind_name(doc));
    }
    if (!valid_channel_name(name)) {
        throw error(errc::invalid_argument, "invalid channel name \"" + std::string(name) +
                                                "\": use lowercase ASCII letters, digits, '_' and '-'");
    }
    return build(std::string(name), doc.as_object(), "$", client);
}

channel_set load_channels(std::string_view json_text, std::shared_ptr<http_client> client) {
    const auto doc = parse_document(json_text);
    if (!doc.is_object()) {
        throw definition_error("$", "a channels file must be an object of channel name -> settings, not " +
                                        detail::json_kind_name(doc));
    }
    channel_set out;
    for (const auto& [key, entry] : doc.as_object()) {
        const std::string name(key);
        const std::string path = "$." + name;
        if (!valid_channel_name(name)) {
            throw definition_error(path, "a channel name uses lowercase ASCII letters, digits, '_' and '-'");
        }
        if (!entry.is_object()) {
            throw definition_error(path,
                                   "must be an object of settings, not " + detail::json_kind_name(entry));
        }
        out.emplace(name, build(name, entry.as_object(), path, client));
    }
    return out;
}

} // namespace tagflow
