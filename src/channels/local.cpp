// Channels without a platform: memory (tests, simulations, Python) and console (demos).
#include <tagflow/channels.hpp>

#include "channels/common.hpp"

#include <ostream>

namespace tagflow {

memory_channel::memory_channel(std::string name, channel_capabilities caps, std::string policy)
    : name_(std::move(name)), caps_(caps), policy_(std::move(policy)) {
    detail::require_setting(name_, "name", "memory channel");
}

send_result memory_channel::send(const outbound_message& message, const contact& recipient) {
    delivery d{message, recipient.id, degrade(message, caps_), {}};
    std::lock_guard lock(mutex_);
    if (next_script_ < script_.size()) {
        d.result = script_[next_script_++];
    } else {
        d.result = send_result::ok(name_ + "-" + std::to_string(++counter_));
    }
    deliveries_.push_back(d);
    return d.result;
}

void memory_channel::script(std::vector<send_result> results) {
    std::lock_guard lock(mutex_);
    for (auto& r : results) {
        script_.push_back(std::move(r));
    }
}

void memory_channel::fail_next(int n, send_result::outcome kind) {
    std::lock_guard lock(mutex_);
    for (int i = 0; i < n; ++i) {
        script_.push_back(send_result::fail(kind, "scripted", "scripted " + std::string(to_string(kind))));
    }
}

std::vector<memory_channel::delivery> memory_channel::deliveries() const {
    std::lock_guard lock(mutex_);
    return deliveries_;
}

std::vector<outbound_message> memory_channel::sent() const {
    std::lock_guard lock(mutex_);
    std::vector<outbound_message> out;
    for (const auto& d : deliveries_) {
        if (d.result.result == send_result::outcome::sent) {
            out.push_back(d.message);
        }
    }
    return out;
}

void memory_channel::clear() {
    std::lock_guard lock(mutex_);
    deliveries_.clear();
    script_.clear();
    next_script_ = 0;
}

console_channel::console_channel(std::string name, std::ostream& out, channel_capabilities caps)
    : name_(std::move(name)), out_(out), caps_(caps) {
    detail::require_setting(name_, "name", "console channel");
}

send_result console_channel::send(const outbound_message& message, const contact& /*recipient*/) {
    const auto shaped = degrade(message, caps_);
    std::lock_guard lock(mutex_);
    for (const auto& part : shaped.parts) {
        out_ << '[' << name_ << "] " << message.to.to_string() << ": " << part << '\n';
    }
    for (const auto& b : shaped.buttons) {
        out_ << "  [" << b.title << "]\n";
    }
    for (const auto& q : shaped.quick_replies) {
        out_ << "  [" << q << "]\n";
    }
    out_.flush();
    auto r = send_result::ok(name_ + "-" + std::to_string(++counter_));
    r.requests = 0;
    return r;
}

} // namespace tagflow
