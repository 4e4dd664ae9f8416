#include <tagflow/error.hpp>
#include <tagflow/memory_store.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <set>

namespace tagflow {

namespace {

class memory_store final : public store {
public:
    void apply(const change_set& changes) override {
        change_set copy = changes;
        apply(std::move(copy));
    }

    // Rows are moved in: the engine hands over each change set once it is done with it.
    void apply(change_set&& changes) override {
        // Check every uniqueness rule before touching anything, so a refused change set
        // leaves the store as it was (the same all-or-nothing contract as a transaction).
        std::set<std::string> keys;
        for (const auto& m : changes.messages) {
            if (message_keys_.count(m.key) != 0 || !keys.insert(m.key).second) {
                throw error(errc::store_failure, "duplicate outbox key \"" + m.key + "\"");
            }
        }
        keys.clear();
        for (const auto& e : changes.events) {
            if (!e.key.empty() && (outcomes_.count(e.key) != 0 || !keys.insert(e.key).second)) {
                throw error(errc::store_failure, "duplicate event key \"" + e.key + "\"");
            }
        }
        // Versions are stored once (SQLite's primary key); replacing one would rewrite history.
        if (changes.definitions && definitions_.count(changes.definitions->version) != 0) {
            throw error(errc::store_failure, "definitions version " +
                                                 std::to_string(changes.definitions->version) +
                                                 " already stored");
        }
        for (auto id : changes.removed_contacts) {
            if (auto it = contacts_.find(id); it != contacts_.end()) {
                unindex(it->second);
                contacts_.erase(it);
            }
        }
        for (auto& c : changes.contacts) {
            const auto id = c.id;
            if (auto it = contacts_.find(id); it != contacts_.end()) {
                unindex(it->second);
            }
            auto& stored = contacts_[id];
            stored = std::move(c);
            index(stored);
            counters_.last_contact = std::max(counters_.last_contact, id);
        }
        for (auto& e : changes.events) {
            if (!e.key.empty()) {
                outcomes_[e.key] = e.outcome;
            }
            counters_.last_event = std::max(counters_.last_event, e.id);
            events_.push_back(std::move(e));
        }
        for (auto& m : changes.messages) {
            message_keys_.emplace(m.key, m.id);
            counters_.last_message = std::max(counters_.last_message, m.id);
            messages_.push_back(std::move(m));
            track(messages_.back());
        }
        for (const auto& m : changes.message_updates) {
            if (auto* stored = message_at(m.id)) {
                untrack(*stored);
                const std::string key = stored->key;
                *stored = m;
                stored->key = key;
                track(*stored);
            }
        }
        if (changes.definitions) {
            definitions_.emplace(changes.definitions->version, *changes.definitions);
        }
        for (auto id : changes.removed_timers) {
            if (auto it = timer_due_.find(id); it != timer_due_.end()) {
                timers_.erase({it->second, id});
                timer_due_.erase(it);
            }
        }
        for (const auto& r : changes.requests) {
            requests_[r.id] = r;
            counters_.last_request = std::max(counters_.last_request, r.id);
        }
        for (auto id : changes.completed_requests) {
            requests_.erase(id);
        }
        for (const auto& t : changes.timers) {
            timers_[{t.due, t.id}] = t;
            timer_due_[t.id] = t.due;
            counters_.last_timer = std::max(counters_.last_timer, t.id);
        }
        for (const auto& [from, to] : changes.moved_timers) {
            for (auto& [key, t] : timers_) {
                if (t.contact == from) {
                    t.contact = to;
                }
            }
        }
    }

    std::optional<contact_id> find_by_identity(const identity& id) override { return find(identities_, id); }
    std::optional<contact_id> find_by_phone(const std::string& phone) override {
        return first(phones_, phone);
    }
    std::optional<contact_id> find_by_email(const std::string& email) override {
        return first(emails_, email);
    }
    std::optional<contact_id> find_by_customer_id(const std::string& customer_id) override {
        return first(customers_, customer_id);
    }

    std::optional<contact> load_contact(contact_id id) override {
        if (auto it = contacts_.find(id); it != contacts_.end()) {
            return it->second;
        }
        return std::nullopt;
    }

    std::vector<contact> load_contacts(contact_id after, std::size_t limit) override {
        std::vector<contact> out;
        for (auto it = contacts_.upper_bound(after); it != contacts_.end() && out.size() < limit; ++it) {
            out.push_back(it->second);
        }
        return out;
    }

    std::vector<contact_id> segment_members(const std::string& segment, contact_id after,
                                            std::size_t limit) override {
        std::vector<contact_id> out;
        for (auto it = contacts_.upper_bound(after); it != contacts_.end() && out.size() < limit; ++it) {
            if (it->second.segments.count(segment) != 0) {
                out.push_back(it->first);
            }
        }
        return out;
    }

    std::vector<contact_id> contact_ids() override {
        std::vector<contact_id> out;
        out.reserve(contacts_.size());
        for (const auto& [id, c] : contacts_) {
            out.push_back(id);
        }
        return out;
    }

    std::optional<std::string> find_outcome(const std::string& key) override { return find(outcomes_, key); }

    std::vector<event_record> events(std::int64_t after_id, std::size_t limit) override {
        return page(events_, after_id, limit);
    }
    std::vector<outbound_message> messages_with_key_prefix(const std::string& prefix,
                                                           const std::string& after_key,
                                                           std::size_t limit) override {
        std::vector<outbound_message> out;
        auto it =
            after_key < prefix ? message_keys_.lower_bound(prefix) : message_keys_.upper_bound(after_key);
        for (; it != message_keys_.end() && out.size() < limit &&
               it->first.compare(0, prefix.size(), prefix) == 0;
             ++it) {
            out.push_back(*message_at(it->second));
        }
        return out;
    }

    std::vector<outbound_message> messages(std::int64_t after_id, std::size_t limit) override {
        return page(messages_, after_id, limit);
    }

    void visit_tags(const std::function<void(contact_id, const std::string&)>& visit) override {
        std::vector<std::pair<std::string, contact_id>> all;
        for (const auto& [id, c] : contacts_) {
            for (const auto& [tag, since] : c.tags) {
                all.emplace_back(tag, id);
            }
        }
        std::sort(all.begin(), all.end());
        for (const auto& [tag, id] : all) {
            visit(id, tag);
        }
    }

    std::optional<outbound_message> find_message(std::int64_t id) override {
        if (auto* m = message_at(id)) {
            return *m;
        }
        return std::nullopt;
    }

    std::optional<outbound_message> find_message_by_external_id(const std::string& channel,
                                                                const std::string& external_id) override {
        if (auto it = external_ids_.find({channel, external_id}); it != external_ids_.end()) {
            return find_message(it->second);
        }
        return std::nullopt;
    }

    std::vector<outbound_message> due_messages(time_point until, std::size_t limit) override {
        std::vector<outbound_message> out;
        for (auto it = waiting_.begin(); it != waiting_.end() && it->first <= until && out.size() < limit;
             ++it) {
            out.push_back(*message_at(it->second));
        }
        return out;
    }

    std::optional<definitions_record> latest_definitions() override {
        if (definitions_.empty()) {
            return std::nullopt;
        }
        return definitions_.rbegin()->second;
    }
    std::optional<definitions_record> find_definitions(int version) override {
        return find(definitions_, version);
    }

    std::vector<timer_record> due_timers(time_point until, std::size_t limit) override {
        std::vector<timer_record> out;
        for (auto it = timers_.begin(); it != timers_.end() && it->first.first <= until && out.size() < limit;
             ++it) {
            out.push_back(it->second);
        }
        return out;
    }

    std::vector<http_request> pending_requests(std::size_t limit) override {
        std::vector<http_request> out;
        for (auto it = requests_.begin(); it != requests_.end() && out.size() < limit; ++it) {
            out.push_back(it->second);
        }
        return out;
    }

    store_counters counters() override { return counters_; }

private:
    template <typename Map, typename Key>
    static std::optional<typename Map::mapped_type> find(const Map& map, const Key& key) {
        if (auto it = map.find(key); it != map.end()) {
            return it->second;
        }
        return std::nullopt;
    }
    static std::optional<contact_id> first(const std::map<std::string, std::set<contact_id>>& map,
                                           const std::string& key) {
        if (auto it = map.find(key); it != map.end() && !it->second.empty()) {
            return *it->second.begin();
        }
        return std::nullopt;
    }
    // Rows are appended in id order, so a binary search finds the first one after `after_id`.
    template <typename Rows>
    static std::vector<typename Rows::value_type> page(const Rows& rows, std::int64_t after_id,
                                                       std::size_t limit) {
        using Row = typename Rows::value_type;
        auto it = std::upper_bound(rows.begin(), rows.end(), after_id,
                                   [](std::int64_t id, const Row& r) { return id < r.id; });
        std::vector<Row> out;
        for (; it != rows.end() && out.size() < limit; ++it) {
            out.push_back(*it);
        }
        return out;
    }

    void index(const contact& c) {
        for (const auto& id : c.identities) {
            identities_[id] = c.id;
        }
        if (!c.profile.phone.empty()) {
            phones_[c.profile.phone].insert(c.id);
        }
        if (!c.profile.email.empty()) {
            emails_[c.profile.email].insert(c.id);
        }
        if (!c.profile.customer_id.empty()) {
            customers_[c.profile.customer_id].insert(c.id);
        }
    }
    void unindex(const contact& c) {
        for (const auto& id : c.identities) {
            identities_.erase(id);
        }
        phones_[c.profile.phone].erase(c.id);
        emails_[c.profile.email].erase(c.id);
        customers_[c.profile.customer_id].erase(c.id);
    }

    // Outbox ids are handed out in increasing order, so the vector is sorted by id.
    outbound_message* message_at(std::int64_t id) {
        auto it = std::lower_bound(messages_.begin(), messages_.end(), id,
                                   [](const outbound_message& m, std::int64_t v) { return m.id < v; });
        return it != messages_.end() && it->id == id ? &*it : nullptr;
    }
    void track(const outbound_message& m) {
        if (m.waiting()) {
            waiting_.insert({m.due(), m.id});
        }
        if (!m.external_id.empty()) {
            external_ids_[{m.to.channel, m.external_id}] = m.id;
        }
    }
    void untrack(const outbound_message& m) { waiting_.erase({m.due(), m.id}); }

    std::map<contact_id, contact> contacts_;
    std::map<identity, contact_id> identities_;
    std::map<std::string, std::set<contact_id>> phones_, emails_, customers_;
    std::map<std::string, std::string> outcomes_;
    std::map<std::string, std::int64_t> message_keys_; // outbox key -> id
    // Appended in id order and never moved: a vector's growth copied the whole log and outbox
    // (a quarter of an in-memory flow benchmark's time).
    std::deque<event_record> events_;
    std::deque<outbound_message> messages_;
    std::set<std::pair<time_point, std::int64_t>> waiting_; // (due, id) of pending and deferred rows
    std::map<std::pair<std::string, std::string>, std::int64_t> external_ids_;
    std::map<int, definitions_record> definitions_;
    std::map<std::pair<time_point, std::int64_t>, timer_record> timers_; // ordered as they fire
    std::map<std::int64_t, time_point> timer_due_;
    std::map<std::int64_t, http_request> requests_; // pending only
    store_counters counters_;
};

} // namespace

std::unique_ptr<store> make_memory_store() {
    return std::make_unique<memory_store>();
}

} // namespace tagflow
