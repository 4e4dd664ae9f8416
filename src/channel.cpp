// Shared adapter work: shaping a message for a channel's capabilities, and the HTTP send loop.
#include <tagflow/channel.hpp>

#include <tagflow/error.hpp>

#include "channels/common.hpp"

#include <utf8proc.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <utility>

namespace tagflow {

namespace {

// Byte offsets of the code points of `s`, plus s.size() at the end. Bytes that do not start a
// well-formed sequence count as one code point each, so splitting still never cuts a valid
// sequence and malformed input cannot make the loop stall.
std::vector<std::size_t> code_point_offsets(std::string_view s) {
    std::vector<std::size_t> out;
    out.reserve(s.size() + 1);
    std::size_t pos = 0;
    while (pos < s.size()) {
        out.push_back(pos);
        utf8proc_int32_t cp = 0;
        const auto len = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + pos),
                                          static_cast<utf8proc_ssize_t>(s.size() - pos), &cp);
        pos += len > 0 ? static_cast<std::size_t>(len) : 1;
    }
    out.push_back(s.size());
    return out;
}

// The first `limit` code points of `s`.
std::string cut(std::string_view s, std::size_t limit) {
    const auto offsets = code_point_offsets(s);
    if (offsets.size() - 1 <= limit) {
        return std::string(s);
    }
    return std::string(s.substr(0, offsets[limit]));
}

// Limits count NFC code points: a Vietnamese letter typed in decomposed form ("a" + two
// combining marks) is one character to the platform, not three. Malformed UTF-8 is kept as is.
std::string nfc(std::string_view s) {
    if (s.empty()) {
        return {};
    }
    utf8proc_uint8_t* out = nullptr;
    const auto len = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                  static_cast<utf8proc_ssize_t>(s.size()), &out,
                                  static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (len < 0) {
        return std::string(s);
    }
    std::string result(reinterpret_cast<const char*>(out), static_cast<std::size_t>(len));
    std::free(out);
    return result;
}

bool is_combining_at(std::string_view s, std::size_t offset) {
    utf8proc_int32_t cp = 0;
    const auto len = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + offset),
                                      static_cast<utf8proc_ssize_t>(s.size() - offset), &cp);
    if (len <= 0) {
        return false;
    }
    const auto cat = utf8proc_category(cp);
    return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC || cat == UTF8PROC_CATEGORY_ME;
}

// Splits `text` into parts of at most `limit` code points. A cut prefers the last line break,
// then the last space, in the final fifth of the window (the separator itself is dropped), so
// words and lines stay whole when that costs little; otherwise it cuts at the limit, moving
// back over combining marks so a mark stays with its base letter.
std::vector<std::string> split(const std::string& text, std::size_t limit) {
    const auto offsets = code_point_offsets(text);
    const std::size_t total = offsets.size() - 1;
    std::vector<std::string> parts;
    if (limit == 0 || total <= limit) {
        parts.push_back(text);
        return parts;
    }
    const std::size_t window = limit - limit / 5; // the earliest code point index a soft cut may use
    std::size_t start = 0;                        // in code points
    while (total - start > limit) {
        const std::size_t hard = start + limit; // the first code point not in this part
        std::size_t end = hard;
        std::size_t next = hard;
        bool found = false;
        for (const char separator : {'\n', ' '}) {
            // Looking at index `hard` too lets a separator right after a full part be dropped.
            for (std::size_t i = hard; i > start + window - 1 && i > start; --i) {
                if (text[offsets[i]] == separator) {
                    end = i;
                    next = i + 1;
                    found = true;
                    break;
                }
            }
            if (found) {
                break;
            }
        }
        if (!found) {
            while (end > start + 1 && is_combining_at(text, offsets[end])) {
                --end;
            }
            next = end;
        }
        parts.push_back(text.substr(offsets[start], offsets[end] - offsets[start]));
        start = next;
    }
    parts.push_back(text.substr(offsets[start]));
    return parts;
}

} // namespace

rendered_message degrade(const outbound_message& m, const channel_capabilities& caps) {
    rendered_message out;
    std::string text = nfc(m.text);
    // Choices that do not all fit become numbered lines, all of them: a contact answering "4"
    // should not have to know that choices 1-3 were buttons. Numbering runs on from buttons to
    // quick replies so every number names one choice.
    std::vector<std::string> numbered;
    if (!m.buttons.empty()) {
        if (m.buttons.size() <= caps.max_buttons) {
            for (const auto& b : m.buttons) {
                out.buttons.push_back({cut(nfc(b.title), caps.max_button_title), b.payload});
            }
        } else {
            for (const auto& b : m.buttons) {
                numbered.push_back(nfc(b.title));
            }
        }
    }
    if (!m.quick_replies.empty()) {
        if (m.quick_replies.size() <= caps.max_quick_replies) {
            for (const auto& q : m.quick_replies) {
                out.quick_replies.push_back(cut(nfc(q), caps.max_button_title));
            }
        } else {
            for (const auto& q : m.quick_replies) {
                numbered.push_back(nfc(q));
            }
        }
    }
    for (std::size_t i = 0; i < numbered.size(); ++i) {
        if (!text.empty()) {
            text += '\n';
        }
        text += std::to_string(i + 1) + ". " + numbered[i];
    }
    out.parts = split(text, caps.max_text);
    return out;
}

std::string_view to_string(send_result::outcome o) noexcept {
    switch (o) {
    case send_result::outcome::sent:
        return "sent";
    case send_result::outcome::retry:
        return "retry";
    case send_result::outcome::failed:
        return "failed";
    case send_result::outcome::blocked:
        return "blocked";
    }
    return "failed";
}

http_channel::http_channel(std::string name, channel_capabilities caps, std::shared_ptr<http_client> client)
    : name_(std::move(name)), caps_(caps), client_(std::move(client)) {
    if (name_.empty()) {
        throw error(errc::invalid_argument, "a channel needs a name");
    }
    if (!client_) {
        throw error(errc::invalid_argument, "channel \"" + name_ + "\" needs an http_client");
    }
}

namespace {

// A pre-approved template is one platform message whatever its text: the text is only a
// preview, so it is never split into several requests.
std::size_t request_count(const outbound_message& m, const channel_capabilities& caps,
                          const rendered_message& shaped) {
    if (caps.templates && !m.template_name.empty()) {
        return 1;
    }
    return shaped.parts.size();
}

} // namespace

std::vector<http_request> http_channel::requests_for(const outbound_message& message,
                                                     const contact& recipient) const {
    const auto shaped = degrade(message, caps_);
    std::vector<http_request> out;
    const auto count = request_count(message, caps_, shaped);
    for (std::size_t i = 0; i < count; ++i) {
        out.push_back(build_request(message, shaped, i, recipient));
    }
    return out;
}

send_result http_channel::send(const outbound_message& message, const contact& recipient) {
    const auto shaped = degrade(message, caps_);
    const auto count = request_count(message, caps_, shaped);
    std::string first_id;
    std::string ids;
    int requests = 0;
    for (std::size_t i = 0; i < count; ++i) {
        http_request request;
        try {
            request = build_request(message, shaped, i, recipient);
        } catch (const detail::send_refused& e) {
            auto r = send_result::fail(send_result::outcome::failed, e.code(), e.what());
            r.requests = requests;
            r.external_id = first_id;
            return r;
        } catch (const std::exception& e) {
            // Nothing was sent for this part and trying again cannot address it either.
            auto r = send_result::fail(send_result::outcome::failed, "unaddressable", e.what());
            r.requests = requests;
            r.external_id = first_id;
            return r;
        }
        send_result part;
        try {
            ++requests;
            const http_response response = client_->send(request);
            if (response.status == 0) {
                part = send_result::fail(send_result::outcome::retry, "transport",
                                         response.error.empty() ? "no HTTP answer" : response.error);
            } else {
                part = interpret(response);
            }
        } catch (const std::exception& e) {
            part = send_result::fail(send_result::outcome::retry, "exception", e.what());
        } catch (...) {
            part = send_result::fail(send_result::outcome::retry, "exception",
                                     "unknown exception from the client");
        }
        if (part.result != send_result::outcome::sent) {
            if (count > 1) {
                part.detail =
                    "part " + std::to_string(i + 1) + " of " + std::to_string(count) + ": " + part.detail;
            }
            part.requests = requests;
            // The parts already delivered keep their id so the record says what the contact saw.
            part.external_id = first_id;
            return part;
        }
        if (part.external_id.empty()) {
            // Some answers carry no id (a webhook's 202, a gateway's duplicate): the key the
            // request was made under names the message instead.
            part.external_id = message.key;
            for (const auto& [header, header_value] : request.headers) {
                if (header == "Idempotency-Key") {
                    part.external_id = header_value;
                }
            }
        }
        if (count == 1) {
            part.requests = requests;
            return part; // keeps the adapter's detail, e.g. "duplicate: already accepted"
        }
        if (i == 0) {
            first_id = part.external_id;
        }
        ids += (ids.empty() ? "" : ",") + part.external_id;
    }
    auto r = send_result::ok(first_id);
    r.requests = requests;
    if (count > 1) {
        r.detail = std::to_string(count) + " parts: " + ids;
    }
    return r;
}

} // namespace tagflow
