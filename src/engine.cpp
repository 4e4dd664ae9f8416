#include <tagflow/engine.hpp>
#include <tagflow/error.hpp>
#include <tagflow/http.hpp>
#include <tagflow/phone.hpp>
#include <tagflow/sqlite_store.hpp>
#include <tagflow/text.hpp>

#include "detail/codec.hpp"
#include "detail/core.hpp"
#include "detail/dates.hpp"
#include "detail/flows.hpp"
#include "detail/sequences.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

namespace tagflow {

namespace json = boost::json;

namespace {

// What one ingest or batch has read and changed, so later events of the same batch see the
// earlier ones' effects before anything is committed.
// The contacts an event or batch touched. Events insert the same few ids again and again, so
// a vector with the last id checked beats a tree; finish() sorts it once.
class touched_contacts {
public:
    void insert(contact_id id) {
        if (ids_.empty() || ids_.back() != id) {
            ids_.push_back(id);
        }
    }
    void erase(contact_id id) { std::erase(ids_, id); }
    // Ascending and without repeats.
    const std::vector<contact_id>& sorted() {
        std::sort(ids_.begin(), ids_.end());
        ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
        return ids_;
    }

private:
    std::vector<contact_id> ids_;
};

class unit_of_work {
public:
    // A unit that will not be written (a dry run) skips remembering what the store held.
    explicit unit_of_work(store& s, bool written = true) : store_(s), written_(written) {}

    change_set changes;
    std::vector<ingest_result> results; // one per processed event, in order
    // Index in results by idempotency key, for duplicates in a batch (no copy of each result).
    // The keys view the batch's validated events, which outlive the unit.
    std::unordered_map<std::string_view, std::size_t> outcomes;

    contact* get(contact_id id) {
        id = follow(id);
        if (auto it = contacts_.find(id); it != contacts_.end()) {
            in_hand_.push_back(id); // the caller may change its keys now
            return &it->second;
        }
        auto loaded = store_.load_contact(id);
        if (!loaded) {
            return nullptr;
        }
        auto& c = contacts_.try_emplace(id, std::move(*loaded)).first->second;
        if (written_) {
            stored_[id] = stored_parts{c.identities, c.tags, c.segments};
        }
        unindexed_.push_back(id); // by_identity files its identities when it is first asked
        index_keys(c);
        return &c;
    }

    // An outbox row as this unit sees it: its latest update, a row decided earlier in the same
    // batch, or the stored one.
    std::optional<outbound_message> message(std::int64_t id, const std::string& channel,
                                            const std::string& external) {
        auto matches = [&](const outbound_message& m) {
            return id > 0 ? m.id == id : m.to.channel == channel && m.external_id == external;
        };
        for (auto it = changes.message_updates.rbegin(); it != changes.message_updates.rend(); ++it) {
            if (matches(*it)) {
                return *it;
            }
        }
        for (const auto& m : changes.messages) {
            if (matches(m)) {
                return m;
            }
        }
        return id > 0 ? store_.find_message(id) : store_.find_message_by_external_id(channel, external);
    }

    contact& create(contact c) {
        auto& stored = contacts_[c.id] = std::move(c);
        index(stored);
        index_keys(stored);
        return stored;
    }

    // Called before each event or timer: contacts handed out for the previous one are indexed
    // again under the keys they have now (the engine changes contacts only through what get()
    // and create() handed out, and holds none across events).
    void begin_event() {
        for (const auto id : in_hand_) {
            if (auto it = contacts_.find(id); it != contacts_.end()) {
                index_keys(it->second, false);
            }
        }
        in_hand_.clear();
    }

    std::optional<contact_id> by_identity(const identity& who) {
        index_loaded();
        if (auto it = identities_.find(who); it != identities_.end()) {
            return it->second;
        }
        if (auto id = store_.find_by_identity(who)) {
            return follow(*id);
        }
        return std::nullopt;
    }

    std::optional<contact_id> by_key(const std::string& kind, const std::string& value, contact_id except) {
        if (value.empty()) {
            return std::nullopt;
        }
        // A contact touched in this unit may have changed since the store saw it: ask the cache
        // first, and trust a store answer only if the cached copy still agrees. The cache is
        // searched through its key index (plus the contacts in hand, whose keys may have just
        // changed) rather than contact by contact, which made a batch quadratic in its size.
        // The lowest matching id wins, as a walk in id order would give.
        std::optional<contact_id> cached;
        auto consider = [&](contact_id id) {
            if (id == except || removed_.count(id) != 0 || (cached && *cached <= id)) {
                return;
            }
            if (auto it = contacts_.find(id); it != contacts_.end() && key_of(it->second, kind) == value) {
                cached = id;
            }
        };
        if (auto it = keys_.find(kind + '\n' + value); it != keys_.end()) {
            for (const auto id : it->second) {
                consider(id);
            }
        }
        for (const auto id : in_hand_) {
            consider(id);
        }
        if (cached) {
            return cached;
        }
        std::optional<contact_id> found;
        if (kind == "phone") {
            found = store_.find_by_phone(value);
        } else if (kind == "email") {
            found = store_.find_by_email(value);
        } else {
            found = store_.find_by_customer_id(value);
        }
        if (!found) {
            return std::nullopt;
        }
        const auto id = follow(*found);
        if (id == except) {
            return std::nullopt;
        }
        if (auto* c = get(id); c && key_of(*c, kind) == value) {
            return id;
        }
        return std::nullopt;
    }

    void remove(contact_id gone, contact_id survivor) {
        index_loaded();
        merged_into_[gone] = survivor;
        removed_.insert(gone);
        contacts_.erase(gone);
        for (auto& [who, id] : identities_) {
            if (id == gone) {
                id = survivor;
            }
        }
    }

    void index(const contact& c) {
        for (const auto& who : c.identities) {
            identities_[who] = c.id;
        }
    }

    // Files the identities of contacts loaded since the last call. Loading defers it: most
    // batches (a broadcast, timers) address contacts by id and never ask by identity.
    void index_loaded() {
        for (const auto id : unindexed_) {
            if (auto it = contacts_.find(id); it != contacts_.end()) {
                index(it->second);
            }
        }
        unindexed_.clear();
    }

    // Moves every touched contact into the change set, once, in id order; the unit is spent.
    void finish(touched_contacts& touched) {
        for (auto id : touched.sorted()) {
            if (removed_.count(id) == 0) {
                if (auto it = contacts_.find(id); it != contacts_.end()) {
                    auto& c = it->second;
                    if (auto was = stored_.find(id); was != stored_.end()) {
                        if (was->second.identities == c.identities) {
                            changes.same_identities.insert(id);
                        }
                        if (was->second.tags == c.tags) {
                            changes.same_tags.insert(id);
                        }
                        if (was->second.segments == c.segments) {
                            changes.same_segments.insert(id);
                        }
                    } else {
                        // Created in this unit: the store has nothing of it, which empty parts match.
                        changes.new_contacts.insert(id);
                        if (c.tags.empty()) {
                            changes.same_tags.insert(id);
                        }
                        if (c.segments.empty()) {
                            changes.same_segments.insert(id);
                        }
                    }
                    changes.contacts.push_back(std::move(c));
                }
            }
        }
        changes.removed_contacts.assign(removed_.begin(), removed_.end());
    }

private:
    static const std::string& key_of(const contact& c, const std::string& kind) {
        if (kind == "phone") {
            return c.profile.phone;
        }
        if (kind == "email") {
            return c.profile.email;
        }
        return c.profile.customer_id;
    }

    // Files the contact under its phone, e-mail and customer id as they are now. Entries for keys
    // it no longer has stay behind; by_key checks every candidate against the contact itself.
    void index_keys(const contact& c, bool in_hand = true) {
        const auto& p = c.profile;
        for (const auto& [kind, value] : {std::pair<std::string_view, const std::string*>{"phone", &p.phone},
                                          {"email", &p.email},
                                          {"customer_id", &p.customer_id}}) {
            if (!value->empty()) {
                std::string name;
                name.reserve(kind.size() + 1 + value->size());
                name.append(kind).append(1, '\n').append(*value);
                auto& ids = keys_[std::move(name)];
                if (std::find(ids.begin(), ids.end(), c.id) == ids.end()) {
                    ids.push_back(c.id);
                }
            }
        }
        if (in_hand) {
            in_hand_.push_back(c.id);
        }
    }

    contact_id follow(contact_id id) const {
        for (auto it = merged_into_.find(id); it != merged_into_.end(); it = merged_into_.find(id)) {
            id = it->second;
        }
        return id;
    }

    // What the store holds for contacts loaded from it, to tell it which parts did not change.
    struct stored_parts {
        std::vector<identity> identities;
        std::map<std::string, time_point> tags;
        std::map<std::string, time_point> segments;
    };

    store& store_;
    bool written_ = true;
    std::map<contact_id, stored_parts> stored_;
    std::map<contact_id, contact> contacts_;
    std::map<identity, contact_id> identities_;
    std::map<contact_id, contact_id> merged_into_;
    std::set<contact_id> removed_;
    std::unordered_map<std::string, std::vector<contact_id>>
        keys_;                          // "kind\nvalue" -> contacts filed under it
    std::vector<contact_id> in_hand_;   // handed out since the last begin_event()
    std::vector<contact_id> unindexed_; // loaded, identities not yet in identities_
};

// Keeps a store unit open for a scope, so a batch's reads and its write share one transaction;
// abandoned unless committed.
class store_unit {
public:
    store_unit(store& s, bool write) : store_(s) { store_.begin_unit(write); }
    store_unit(const store_unit&) = delete;
    store_unit& operator=(const store_unit&) = delete;
    ~store_unit() {
        if (open_) {
            store_.abandon_unit();
        }
    }
    void commit() {
        store_.commit_unit();
        open_ = false;
    }

private:
    store& store_;
    bool open_ = true;
};

bool valid_channel(const std::string& channel) {
    return !channel.empty() && std::all_of(channel.begin(), channel.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

} // namespace

struct engine::impl {
    std::unique_ptr<store> backing;
    engine_options options;
    definitions defs;
    int defs_version = 0;
    detail::id_counters ids;
    mutable std::mutex mutex;
    std::map<int, definitions> old_defs;
    std::mutex perform_mutex;
    bool previewing = false; // a dry run: the log rows it builds are never written

    time_point now() const {
        if (options.clock) {
            return options.clock();
        }
        return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    }

    // Checks and normalises an event; throws event_error naming the field. Writes nothing.
    // Takes its own copy (or the caller's event, moved in) and returns it checked and completed.
    event validate(event e, const std::string& prefix) const {
        auto fail = [&](const std::string& field, const std::string& what) -> void {
            throw event_error(prefix + field, what);
        };
        if (!e.at) {
            e.at = now();
        }
        if (e.kind == event_kind::lifecycle_changed) {
            fail("kind",
                 "lifecycle_changed is derived by the engine and cannot be ingested; link a customer id "
                 "or update the profile instead");
        }
        const bool by_message = e.kind == event_kind::delivery_update && e.message_id > 0;
        if (e.kind == event_kind::delivery_update) {
            if (!e.delivery) {
                fail("delivery",
                     "required: sent, retry, failed, dead_letter, blocked, deferred, delivered, read or "
                     "clicked");
            }
            if (e.message_id < 0) {
                fail("message_id", "outbox ids start at 1");
            }
            if (!by_message && e.external_id.empty()) {
                fail("message_id", "required (or give identity and external_id)");
            }
        }
        if (!e.contact && !by_message) {
            if (e.identity.channel.empty()) {
                fail("identity.channel", "required (or give a contact id)");
            }
            if (!valid_channel(e.identity.channel)) {
                fail("identity.channel",
                     "\"" + e.identity.channel + "\" is not a channel name (lowercase a-z, 0-9, _ or -)");
            }
            if (e.identity.external_id.empty()) {
                fail("identity.external_id", "required");
            }
        } else if (e.contact && *e.contact <= 0) {
            fail("contact", "contact ids start at 1");
        }
        switch (e.kind) {
        case event_kind::broadcast:
            if (e.name.empty()) {
                fail("name", "a broadcast needs a name");
            }
            if (e.text.empty()) {
                fail("text", "a broadcast needs a text");
            }
            if (auto it = e.data.find("purpose"); it != e.data.end() && it->second != "reply" &&
                                                  it->second != "transactional" &&
                                                  it->second != "promotional") {
                fail("data.purpose", "expected reply, transactional or promotional");
            }
            break;
        case event_kind::postback:
            if (e.payload.empty()) {
                fail("payload", "required for a postback");
            }
            break;
        case event_kind::form_opened:
        case event_kind::form_submitted:
            if (e.form.empty()) {
                fail("form", "required for a form event");
            }
            break;
        case event_kind::order_placed:
            if (!std::isfinite(e.order.total) || e.order.total < 0) {
                fail("order.total", "must be a finite amount >= 0");
            }
            break;
        case event_kind::customer_linked:
            if (e.customer_id.empty()) {
                fail("customer_id", "required to link a customer");
            }
            break;
        case event_kind::note_added:
            if (e.text.empty()) {
                fail("text", "a note needs text");
            }
            break;
        case event_kind::track:
            if (e.name.empty()) {
                fail("name", "a track event needs a name");
            }
            break;
        case event_kind::tag_added:
        case event_kind::tag_removed:
            if (e.tag.empty()) {
                fail("tag", "required");
            }
            break;
        case event_kind::request_completed:
            if (e.request_id <= 0) {
                fail("request_id", "required: the id of the request this answers");
            }
            break;
        default:
            break;
        }
        if (!is_valid_utf8(e.text)) {
            fail("text", "is not valid UTF-8"); // rules match folded text: refuse what cannot be folded
        }
        auto& p = e.profile;
        if (p.phone && !p.phone->empty()) {
            try {
                p.phone = normalize_phone(*p.phone);
            } catch (const error& err) {
                fail("profile.phone", err.what());
            }
        }
        if (p.email && !p.email->empty()) {
            try {
                p.email = normalize_email(*p.email);
            } catch (const error& err) {
                fail("profile.email", err.what());
            }
        }
        if (p.time_zone && !p.time_zone->empty() && !is_valid_time_zone(*p.time_zone)) {
            fail("profile.timezone", "\"" + *p.time_zone + "\" is not an IANA time zone");
        }
        for (auto& [name, text] : p.fields) {
            if (is_profile_field(name)) {
                fail("profile.fields." + name, "is a profile attribute; set profile." + name + " instead");
            }
            const auto* def = defs.find_field(name);
            if (!def) {
                fail("profile.fields." + name, "field is not declared in the definitions");
            }
            if (text.empty()) {
                continue; // an empty value clears the field
            }
            try {
                text = to_text(detail::coerce_field(def->type, text));
            } catch (const error& err) {
                fail("profile.fields." + name, err.what());
            }
        }
        return e;
    }

    // Resolves the contact an event belongs to, creating it if needed.
    contact& resolve(const event& e, unit_of_work& work, ingest_result& result, touched_contacts& touched) {
        if (e.contact) {
            auto* c = work.get(*e.contact);
            if (!c) {
                throw event_error("contact", "no contact with id " + std::to_string(*e.contact));
            }
            return *c;
        }
        if (auto id = work.by_identity(e.identity)) {
            return *work.get(*id);
        }
        // An unknown identity whose phone or e-mail we already know is the same person on
        // another channel: attach it instead of creating a second contact.
        std::optional<contact_id> same;
        if (e.profile.phone) {
            same = work.by_key("phone", *e.profile.phone, 0);
        }
        if (!same && e.profile.email) {
            same = work.by_key("email", *e.profile.email, 0);
        }
        if (same) {
            auto& c = *work.get(*same);
            c.identities.push_back(e.identity);
            std::sort(c.identities.begin(), c.identities.end());
            work.index(c);
            return c;
        }
        contact fresh;
        fresh.id = ++ids.contact;
        fresh.identities.push_back(e.identity);
        result.contact_created = true;
        touched.insert(fresh.id);
        return work.create(std::move(fresh));
    }

    // Merges any other contact sharing this one's phone, e-mail or customer id; the lower id
    // survives. Returns the survivor.
    contact& merge_duplicates(contact& c, unit_of_work& work, ingest_result& result,
                              touched_contacts& touched, std::int64_t cause, detail::core_env& env) {
        contact* current = &c;
        for (const char* kind : {"customer_id", "phone", "email"}) {
            const auto& p = current->profile;
            const std::string& key = std::string_view(kind) == "phone"   ? p.phone
                                     : std::string_view(kind) == "email" ? p.email
                                                                         : p.customer_id;
            auto other_id = work.by_key(kind, key, current->id);
            if (!other_id) {
                continue;
            }
            contact* other = work.get(*other_id);
            contact* survivor = other->id < current->id ? other : current;
            contact* gone = survivor == other ? current : other;
            const contact_id gone_id = gone->id;
            // The lower id survives, but the contact this event touched has the newest values:
            // they win, and the other contact only fills gaps.
            contact combined = *current;
            combined.id = survivor->id;
            detail::merge_contacts(combined, *other);
            *survivor = std::move(combined);
            // Rows this event already wrote for the contact that goes now belong to the survivor.
            for (auto& row : env.out.events) {
                if (row.id >= cause && row.contact == gone_id) {
                    row.contact = survivor->id;
                }
            }
            for (auto& m : env.out.messages) {
                if (m.cause_event >= cause && m.contact == gone_id) {
                    m.contact = survivor->id;
                }
            }
            json::object body;
            body["merged"] = gone_id;
            body["on"] = kind;
            detail::record(env, survivor->id, "contact_merged", std::move(body), cause, "engine");
            result.merged.push_back(gone_id);
            // Timers of the contact that goes (its run, its sequences) now wake the survivor.
            env.out.moved_timers.emplace_back(gone_id, survivor->id);
            touched.insert(survivor->id);
            touched.erase(gone_id);
            const contact_id survivor_id = survivor->id;
            work.remove(gone_id, survivor_id);
            current = work.get(survivor_id);
            work.index(*current);
        }
        return *current;
    }

    // Processes one validated event of the batch; `e` lives until the unit ends.
    ingest_result process(const event& e, unit_of_work& work, touched_contacts& touched) {
        work.begin_event();
        auto result = route(e, work, touched);
        if (!e.key.empty() && !result.duplicate && result.event_id != 0) {
            work.outcomes.emplace(e.key, work.results.size()); // ingest_all appends this result next
        }
        return result;
    }

    ingest_result route(const event& e, unit_of_work& work, touched_contacts& touched) {
        if (e.kind != event_kind::delivery_update) {
            return process_one(e, work, touched, nullptr);
        }
        if (!e.key.empty() && (work.outcomes.count(e.key) != 0 || backing->find_outcome(e.key))) {
            return process_one(e, work, touched, nullptr); // answers as a duplicate
        }
        auto m = work.message(e.message_id, e.identity.channel, e.external_id);
        if (!m) {
            if (e.message_id > 0) {
                throw event_error("message_id", "no outbox message with id " + std::to_string(e.message_id));
            }
            // A receipt for a message this engine did not send (another tool on the same
            // account): nothing to update, and not an error the platform should retry.
            return ingest_result{};
        }
        // The report belongs to the message's contact, whatever address it came from.
        event routed = e;
        routed.message_id = m->id; // the log keeps the resolved row, so a replay finds it again
        if (work.get(m->contact)) {
            routed.contact = m->contact;
            routed.identity = {};
        } else {
            routed.identity = m->to;
        }
        return process_one(routed, work, touched, &*m);
    }

    ingest_result process_one(const event& e, unit_of_work& work, touched_contacts& touched,
                              const outbound_message* delivered) {
        if (!e.key.empty()) {
            if (auto it = work.outcomes.find(e.key); it != work.outcomes.end()) {
                auto first = work.results[it->second];
                first.duplicate = true;
                return first;
            }
            if (auto stored = backing->find_outcome(e.key)) {
                auto first = detail::result_from_json(json::parse(*stored));
                first.duplicate = true;
                return first;
            }
        }
        ingest_result result;
        contact& resolved = resolve(e, work, result, touched);
        touched.insert(resolved.id);
        const std::int64_t input_id = ++ids.event;
        result.event_id = input_id;
        event_record input;
        input.id = input_id;
        input.kind = std::string(to_string(e.kind));
        input.key = e.key;
        input.at = *e.at;
        if (!previewing) {
            input.body = to_json(e);
        }
        input.origin = "input";
        input.definitions_version = defs_version;
        const std::size_t input_row = work.changes.events.size();
        work.changes.events.push_back(std::move(input));

        detail::core_env env = make_env(work, result, *e.at);
        env.input = &e;
        env.delivery_message = delivered;
        // Caller keys and engine-made ones live in separate namespaces so they can never clash.
        env.key_base = e.key.empty() ? "e:" + std::to_string(input_id) : "k:" + e.key;
        auto raised = detail::apply_input(resolved, e, input_id, env);
        contact& merged = merge_duplicates(resolved, work, result, touched, input_id, env);
        detail::react(merged, std::move(raised), input_id, env);
        contact& final_contact = merge_duplicates(merged, work, result, touched, input_id, env);
        touched.insert(final_contact.id);
        result.contact = final_contact.id;

        auto& row = work.changes.events[input_row];
        row.contact = final_contact.id;
        if (!previewing) {
            row.outcome = detail::result_json_text(result);
        }
        return result;
    }

    detail::core_env make_env(unit_of_work& work, ingest_result& result, time_point at) {
        detail::core_env env{defs, options, defs_version, ids, work.changes, result,
                             at,   nullptr, {},           0,   {},           {}};
        env.definitions_at = [this](int version) -> const definitions& {
            return definitions_version_of(version);
        };
        env.keep_log = !previewing;
        return env;
    }

    // Runs keep the definitions they started on; older versions are loaded once, on demand.
    const definitions& definitions_version_of(int version) {
        if (version == defs_version) {
            return defs;
        }
        auto it = old_defs.find(version);
        if (it == old_defs.end()) {
            auto stored = backing->find_definitions(version);
            if (!stored) {
                return defs; // cannot happen unless the store was edited; the current ones are the best guess
            }
            it = old_defs.emplace(version, definitions::parse(stored->source)).first;
        }
        return it->second;
    }

    // Fires due timers in (due, id) order, many per transaction (group commit). A batch ends
    // early when a timer it fired scheduled another that is due before the next one in line, so
    // the order is exactly what firing them one by one would give.
    std::size_t fire_due(time_point until, time_point clock_now) {
        constexpr std::size_t batch = 256;
        std::size_t fired = 0;
        for (;;) {
            const auto saved = ids;
            try {
                store_unit unit(*backing, true);
                const auto due = backing->due_timers(until, batch);
                if (due.empty()) {
                    break;
                }
                unit_of_work work(*backing);
                touched_contacts touched;
                for (const auto& t : due) {
                    const bool earlier_pending =
                        std::any_of(work.changes.timers.begin(), work.changes.timers.end(),
                                    [&t](const timer_record& fresh) { return fresh.due < t.due; });
                    if (earlier_pending) {
                        break;
                    }
                    if (std::find(work.changes.removed_timers.begin(), work.changes.removed_timers.end(),
                                  t.id) != work.changes.removed_timers.end()) {
                        continue; // cancelled by a timer fired earlier in this batch
                    }
                    fire_one(t, work, touched, clock_now);
                    ++fired;
                }
                work.finish(touched);
                backing->apply(std::move(work.changes)); // done with it: a store may take the rows
                unit.commit();
            } catch (...) {
                ids = saved;
                throw;
            }
        }
        return fired;
    }

    void fire_one(const timer_record& t, unit_of_work& work, touched_contacts& touched,
                  time_point clock_now) {
        {
            work.begin_event();
            work.changes.removed_timers.push_back(t.id);
            if (contact* c = work.get(t.contact)) {
                ingest_result result;
                detail::core_env env = make_env(work, result, t.due);
                // Lateness is measured against the engine clock: after downtime the clock is
                // far past the due time; in simulations it follows the timers exactly.
                env.late_by = std::max(duration{}, clock_now - t.due);
                json::object body;
                body["timer"] = t.id;
                body["kind"] = t.kind;
                const auto cause = detail::record(env, c->id, "timer_fired", std::move(body), 0, "timer");
                env.key_base = "t:" + std::to_string(t.id);
                std::vector<detail::raised> queue;
                const bool paused = c->paused_until && t.due < *c->paused_until;
                if (paused && t.kind != "flow" && t.kind != "segments:") {
                    // A human has the conversation. Steps and delayed actions wait (checked again
                    // daily or when the pause ends); a date occurrence is skipped for this year.
                    json::object held;
                    held["timer"] = t.kind;
                    detail::record(env, c->id, "automation_paused", std::move(held), cause, "engine");
                    if (t.kind.rfind("date:", 0) == 0) {
                        detail::date_skip(*c, t.kind.substr(5), t.id, env);
                    } else {
                        const auto retry = std::min(*c->paused_until, t.due + std::chrono::hours(24));
                        env.out.timers.push_back(timer_record{t.id, retry, c->id, t.kind});
                    }
                } else if (t.kind.rfind("sequence:", 0) == 0) {
                    detail::sequence_on_timer(*c, t.kind.substr(9), t.id, cause, env, queue);
                } else if (t.kind.rfind("date:", 0) == 0) {
                    detail::date_on_timer(*c, t.kind.substr(5), t.id, cause, env, queue);
                } else if (t.kind.rfind("inactive:", 0) == 0) {
                    detail::inactive_on_timer(*c, t.kind.substr(9), t.id, cause, env, queue);
                } else if (t.kind == "segments:") {
                    detail::segments_on_timer(*c, t.id);
                } else if (t.kind.rfind("later:", 0) == 0) {
                    detail::run_later(*c, t.kind, cause, env, queue);
                } else {
                    detail::flow_on_timer(*c, t.id, cause, env, queue);
                }
                detail::react(*c, std::move(queue), cause, env);
                touched.insert(c->id);
            }
        }
    }

    // Validates and processes `events` in one unit of work and commits it; with `preview`, the
    // outbox rows it would write go there instead and nothing is written (engine::dry_run).
    // `owned`, when given, holds the same events for the taking: they are validated in place
    // instead of copied.
    std::vector<ingest_result> ingest_all(std::span<const event> events, bool batch,
                                          std::vector<outbound_message>* preview = nullptr,
                                          std::vector<event>* owned = nullptr) {
        std::vector<event> checked;
        checked.reserve(events.size());
        std::lock_guard lock(mutex);
        for (std::size_t i = 0; i < events.size(); ++i) {
            const auto prefix = batch ? "[" + std::to_string(i) + "]." : std::string{};
            checked.push_back(owned ? validate(std::move((*owned)[i]), prefix) : validate(events[i], prefix));
        }
        const auto saved = ids;
        previewing = preview != nullptr;
        struct preview_end {
            bool& flag;
            ~preview_end() { flag = false; }
        } end_preview{previewing};
        try {
            store_unit unit(*backing, preview == nullptr);
            unit_of_work work(*backing, preview == nullptr);
            touched_contacts touched;
            auto& results = work.results;
            results.reserve(checked.size());
            work.outcomes.reserve(checked.size());
            for (std::size_t i = 0; i < checked.size(); ++i) {
                try {
                    results.push_back(process(checked[i], work, touched));
                } catch (const event_error& err) {
                    if (!batch) {
                        throw;
                    }
                    throw event_error("[" + std::to_string(i) + "]." + err.field(), err.detail());
                }
            }
            if (preview) {
                *preview = std::move(work.changes.messages);
                ids = saved; // nothing was written: the ids are free again
                return std::move(results);
            }
            work.finish(touched);
            if (!work.changes.empty()) {
                backing->apply(std::move(work.changes)); // done with it: a store may take the rows
            }
            unit.commit();
            return std::move(results);
        } catch (...) {
            ids = saved; // nothing was written: hand the same ids out again
            throw;
        }
    }
};

engine::engine(std::unique_ptr<store> backing, engine_options options) : impl_(std::make_unique<impl>()) {
    if (!backing) {
        throw error(errc::invalid_argument, "engine needs a store");
    }
    impl_->backing = std::move(backing);
    impl_->options = std::move(options);
    if (!is_valid_time_zone(impl_->options.default_time_zone)) {
        throw error(errc::invalid_argument, "default_time_zone \"" + impl_->options.default_time_zone +
                                                "\" is not an IANA time zone");
    }
    if (impl_->options.max_cascade_depth < 1) {
        throw error(errc::invalid_argument, "max_cascade_depth must be at least 1");
    }
    const auto counters = impl_->backing->counters();
    impl_->ids.contact = counters.last_contact;
    impl_->ids.event = counters.last_event;
    impl_->ids.message = counters.last_message;
    impl_->ids.timer = counters.last_timer;
    impl_->ids.request = counters.last_request;
    if (auto latest = impl_->backing->latest_definitions()) {
        impl_->defs = definitions::parse(latest->source);
        impl_->defs_version = latest->version;
    }
}

engine engine::open(const std::string& sqlite_path, engine_options options) {
    return engine(open_sqlite_store(sqlite_path), std::move(options));
}

engine::~engine() = default;
engine::engine(engine&&) noexcept = default;
engine& engine::operator=(engine&&) noexcept = default;

int engine::load_definitions(const definitions& defs) {
    std::lock_guard lock(impl_->mutex);
    if (impl_->defs_version > 0 && impl_->defs.source() == defs.source()) {
        return impl_->defs_version;
    }
    change_set changes;
    changes.definitions = definitions_record{impl_->defs_version + 1, defs.source(), impl_->now()};
    impl_->backing->apply(changes);
    impl_->defs = defs;
    impl_->defs_version += 1;
    return impl_->defs_version;
}

int engine::load_definitions(std::string_view json_text) {
    return load_definitions(definitions::parse(json_text));
}

definitions engine::current_definitions() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->defs;
}

int engine::definitions_version() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->defs_version;
}

ingest_result engine::ingest(const event& e) {
    return impl_->ingest_all(std::span<const event>(&e, 1), false).front();
}

std::vector<ingest_result> engine::ingest_batch(std::span<const event> events) {
    if (events.empty()) {
        return {};
    }
    return impl_->ingest_all(events, true);
}

std::vector<ingest_result> engine::ingest_batch(std::vector<event>&& events) {
    if (events.empty()) {
        return {};
    }
    return impl_->ingest_all(events, true, nullptr, &events);
}

std::optional<contact> engine::find_contact(const identity& who) const {
    std::lock_guard lock(impl_->mutex);
    if (auto id = impl_->backing->find_by_identity(who)) {
        return impl_->backing->load_contact(*id);
    }
    return std::nullopt;
}

contact engine::get_contact(contact_id id) const {
    std::lock_guard lock(impl_->mutex);
    if (auto c = impl_->backing->load_contact(id)) {
        return *c;
    }
    throw error(errc::not_found, "no contact with id " + std::to_string(id));
}

std::vector<contact> engine::contacts() const {
    std::lock_guard lock(impl_->mutex);
    store_unit snapshot(*impl_->backing, false);
    std::vector<contact> out;
    constexpr std::size_t page = 1000;
    for (auto more = impl_->backing->load_contacts(0, page); !more.empty();
         more = impl_->backing->load_contacts(out.back().id, page)) {
        out.insert(out.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    }
    return out;
}

std::vector<contact> engine::contacts(contact_id after, std::size_t limit) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->backing->load_contacts(after, limit);
}

std::vector<contact_id> engine::segment_members(const std::string& segment, contact_id after,
                                                std::size_t limit) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->backing->segment_members(segment, after, limit);
}

namespace {
template <typename Fetch>
auto read_all(std::int64_t after_id, Fetch fetch) {
    constexpr std::size_t page = 1000;
    auto out = fetch(after_id, page);
    for (auto more = out; more.size() == page;) {
        more = fetch(more.back().id, page);
        out.insert(out.end(), more.begin(), more.end());
    }
    return out;
}
} // namespace

std::vector<outbound_message> engine::outbox(std::int64_t after_id) const {
    std::lock_guard lock(impl_->mutex);
    store_unit snapshot(*impl_->backing, false); // every page from the same snapshot
    return read_all(after_id,
                    [this](std::int64_t a, std::size_t n) { return impl_->backing->messages(a, n); });
}

std::vector<outbound_message> engine::outbox_with_key_prefix(const std::string& prefix,
                                                             const std::string& after_key,
                                                             std::size_t limit) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->backing->messages_with_key_prefix(prefix, after_key, limit);
}

std::vector<outbound_message> engine::outbox(std::int64_t after_id, std::size_t limit) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->backing->messages(after_id, limit);
}

std::vector<event_record> engine::event_log(std::int64_t after_id) const {
    std::lock_guard lock(impl_->mutex);
    store_unit snapshot(*impl_->backing, false); // every page from the same snapshot
    return read_all(after_id, [this](std::int64_t a, std::size_t n) { return impl_->backing->events(a, n); });
}

std::vector<event> engine::input_events() const {
    std::vector<event> out;
    for (const auto& r : event_log()) {
        if (r.origin == "input") {
            out.push_back(event_from_json(r.body));
        }
    }
    return out;
}

explanation engine::explain(std::int64_t message_id) const {
    std::lock_guard lock(impl_->mutex);
    auto rows = impl_->backing->messages(message_id - 1, 1);
    if (rows.empty() || rows.front().id != message_id) {
        throw error(errc::not_found, "no outbox message with id " + std::to_string(message_id));
    }
    explanation out;
    out.message = rows.front();
    out.decided_by = out.message.cause;
    // Walk causes back to the root; log rows only ever point at earlier rows.
    std::vector<event_record> chain;
    for (std::int64_t id = out.message.cause_event; id > 0;) {
        auto row = impl_->backing->events(id - 1, 1);
        if (row.empty() || row.front().id != id) {
            break;
        }
        chain.push_back(row.front());
        id = row.front().cause;
    }
    out.chain.assign(chain.rbegin(), chain.rend());
    if (!out.chain.empty()) {
        const auto& root = out.chain.front();
        // Everything up to the next root (input or timer) belongs to the same processing.
        for (auto page = impl_->backing->events(root.id, 256); !page.empty();
             page = impl_->backing->events(page.back().id, 256)) {
            bool done = false;
            for (const auto& r : page) {
                if (r.cause == 0) {
                    done = true;
                    break;
                }
                out.steps.push_back(r);
            }
            if (done) {
                break;
            }
        }
        if (root.origin == "input" && !root.outcome.empty()) {
            out.rules_fired = detail::result_from_json(json::parse(root.outcome)).rules_fired;
        }
    }
    return out;
}

std::vector<block_counter> engine::block_counters() const {
    std::map<std::pair<std::string, std::string>, block_counter> counters;
    auto counter = [&counters](const std::string& flow, const std::string& block) -> block_counter& {
        auto& c = counters[{flow, block}];
        c.flow = flow;
        c.block = block;
        return c;
    };
    for (const auto& r : event_log()) {
        if (r.kind == "block_entered") {
            const auto body = json::parse(r.body).as_object();
            ++counter(std::string(body.at("flow").as_string()), std::string(body.at("block").as_string()))
                  .entered;
        }
    }
    for (const auto& c : contacts()) {
        if (c.run && !c.run->waiting.empty()) {
            ++counter(c.run->flow, c.run->block).waiting;
        }
    }
    std::vector<block_counter> out;
    for (auto& [key, c] : counters) {
        c.completed = c.entered - c.waiting;
        out.push_back(c);
    }
    return out;
}

std::string engine::contact_json(contact_id id) const {
    return json::serialize(detail::contact_to_json(get_contact(id)));
}

std::string engine::export_json() const {
    // One lock for the whole export, so it is a consistent snapshot while others ingest.
    std::lock_guard lock(impl_->mutex);
    auto& backing = *impl_->backing;
    store_unit snapshot(backing, false);
    json::object doc;
    doc["definitions_version"] = impl_->defs_version;
    json::array people;
    for (auto id : backing.contact_ids()) {
        if (auto c = backing.load_contact(id)) {
            people.emplace_back(detail::contact_to_json(*c));
        }
    }
    doc["contacts"] = std::move(people);
    json::array messages;
    for (const auto& m :
         read_all(0, [&backing](std::int64_t a, std::size_t n) { return backing.messages(a, n); })) {
        messages.emplace_back(detail::message_to_json(m));
    }
    doc["outbox"] = std::move(messages);
    return json::serialize(doc);
}

std::size_t engine::advance_to(time_point until) {
    std::lock_guard lock(impl_->mutex);
    return impl_->fire_due(until, impl_->now());
}

run_migration engine::migrate_runs() {
    std::lock_guard lock(impl_->mutex);
    run_migration out;
    const auto& defs = impl_->defs;
    auto exists = [&defs](const std::string& flow, const std::string& block) {
        const auto* f = defs.find_flow(flow);
        return f && (block.empty() || f->find(block));
    };
    const auto saved = impl_->ids;
    try {
        change_set changes;
        for (auto id : impl_->backing->contact_ids()) {
            auto c = impl_->backing->load_contact(id);
            if (!c || !c->run || c->run->definitions_version == impl_->defs_version) {
                continue;
            }
            bool ok = exists(c->run->flow, c->run->block);
            for (const auto& frame : c->run->stack) {
                ok = ok && exists(frame.flow, frame.next);
            }
            if (!ok) {
                out.left.push_back(id);
                continue;
            }
            json::object body;
            body["flow"] = c->run->flow;
            body["block"] = c->run->block;
            body["from_version"] = c->run->definitions_version;
            c->run->definitions_version = impl_->defs_version;
            event_record r;
            r.id = ++impl_->ids.event;
            r.contact = id;
            r.kind = "run_migrated";
            r.at = impl_->now();
            r.body = json::serialize(body);
            r.origin = "engine";
            r.definitions_version = impl_->defs_version;
            changes.events.push_back(std::move(r));
            changes.contacts.push_back(std::move(*c));
            changes.same_identities.insert(id);
            changes.same_tags.insert(id);
            changes.same_segments.insert(id);
            ++out.migrated;
        }
        if (!changes.empty()) {
            impl_->backing->apply(changes);
        }
    } catch (...) {
        impl_->ids = saved;
        throw;
    }
    return out;
}

std::size_t engine::perform_requests(http_client& client, std::size_t limit) {
    // One performer at a time: pending requests are not claimed, so two concurrent callers
    // would call the same API twice. Ingest is not blocked by this lock.
    std::lock_guard performing(impl_->perform_mutex);
    std::vector<http_request> pending;
    {
        std::lock_guard lock(impl_->mutex);
        pending = impl_->backing->pending_requests(limit);
    }
    // The calls run without the engine lock: other contacts' events go on meanwhile.
    for (const auto& r : pending) {
        http_response response;
        try {
            response = client.send(r);
        } catch (const std::exception& e) {
            response.error = e.what();
        } catch (...) {
            response.error = "the HTTP client failed";
        }
        event answer;
        answer.kind = event_kind::request_completed;
        answer.contact = r.contact;
        answer.request_id = r.id;
        answer.status = response.status;
        answer.text = std::move(response.body);
        answer.error = std::move(response.error);
        try {
            (void)fold(answer.text); // event text must be UTF-8; a binary answer is a failure
        } catch (const error&) {
            answer.text.clear();
            answer.error = "the answer is not valid UTF-8";
        }
        answer.key = "request:" + std::to_string(r.id); // a second perform of the same request is a no-op
        ingest(answer);
    }
    return pending.size();
}

std::vector<contact_id> engine::contact_ids() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->backing->contact_ids();
}

void engine::visit_tags(const std::function<void(contact_id, const std::string&)>& visit) const {
    std::lock_guard lock(impl_->mutex);
    impl_->backing->visit_tags(visit);
}

std::vector<outbound_message> engine::dry_run(std::span<const event> events) {
    std::vector<outbound_message> decided;
    (void)impl_->ingest_all(events, true, &decided);
    return decided;
}

std::vector<outbound_message> engine::dry_run(std::vector<event>&& events) {
    std::vector<outbound_message> decided;
    (void)impl_->ingest_all(events, true, &decided, &events);
    return decided;
}

std::vector<outbound_message> engine::due_messages(time_point until, std::size_t limit) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->backing->due_messages(until, limit);
}

std::optional<time_point> engine::next_message_due() const {
    std::lock_guard lock(impl_->mutex);
    auto first = impl_->backing->due_messages(time_point::max(), 1);
    if (first.empty()) {
        return std::nullopt;
    }
    return first.front().due();
}

policy_decision engine::check_policy(const outbound_message& message, time_point at) const {
    std::lock_guard lock(impl_->mutex);
    const auto* profile = impl_->defs.channel_policy(message.to.channel);
    if (!profile) {
        return {};
    }
    auto c = impl_->backing->load_contact(message.contact);
    if (!c) {
        // Merged away since the send was decided: the survivor owns the address now.
        if (auto id = impl_->backing->find_by_identity(message.to)) {
            c = impl_->backing->load_contact(*id);
        }
    }
    if (!c) {
        throw error(errc::not_found, "no contact for outbox message " + std::to_string(message.id));
    }
    auto ctx = detail::policy_context(
        *c, message, c->profile.time_zone.empty() ? impl_->options.default_time_zone : c->profile.time_zone,
        at);
    ctx.at_dispatch = true;
    return evaluate(*profile, ctx);
}

std::optional<time_point> engine::next_timer() const {
    std::lock_guard lock(impl_->mutex);
    auto due = impl_->backing->due_timers(time_point::max(), 1);
    if (due.empty()) {
        return std::nullopt;
    }
    return due.front().due;
}

time_point engine::now() const {
    return impl_->now();
}

const engine_options& engine::options() const noexcept {
    return impl_->options;
}

} // namespace tagflow
