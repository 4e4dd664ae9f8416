// The SQLite store. Contacts are kept whole as one JSON document per row (the engine reads and
// writes a contact as a unit per event), with side tables that index what lookups need:
// identities, phone/e-mail/customer id, and tags (for SQL reporting and segment baselines).
#include <tagflow/error.hpp>
#include <tagflow/sqlite_store.hpp>

#include "detail/codec.hpp"
#include "detail/sqlite.hpp"

#include <sqlite3.h>

#include <optional>

namespace tagflow {

namespace {

namespace sql = detail::sqlite;
namespace json = boost::json;

std::int64_t millis(time_point t) {
    return t.time_since_epoch().count();
}
time_point from_millis(std::int64_t ms) {
    return time_point{std::chrono::milliseconds{ms}};
}

// Each entry is one schema version; user_version counts how many have been applied.
const std::vector<std::string>& migrations() {
    static const std::vector<std::string> steps{
        R"sql(
CREATE TABLE meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta(name, value) VALUES ('last_contact', 0);
CREATE TABLE contacts(
  id INTEGER PRIMARY KEY,
  phone TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '',
  customer_id TEXT NOT NULL DEFAULT '',
  doc TEXT NOT NULL);
CREATE INDEX contacts_phone ON contacts(phone) WHERE phone <> '';
CREATE INDEX contacts_email ON contacts(email) WHERE email <> '';
CREATE INDEX contacts_customer ON contacts(customer_id) WHERE customer_id <> '';
CREATE TABLE identities(
  channel TEXT NOT NULL,
  external_id TEXT NOT NULL,
  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  PRIMARY KEY(channel, external_id)) WITHOUT ROWID;
CREATE INDEX identities_contact ON identities(contact_id);
CREATE TABLE contact_tags(
  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  added_at INTEGER NOT NULL,
  PRIMARY KEY(contact_id, tag)) WITHOUT ROWID;
CREATE INDEX contact_tags_tag ON contact_tags(tag, contact_id);
CREATE TABLE events(
  id INTEGER PRIMARY KEY,
  contact_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  key TEXT,
  at INTEGER NOT NULL,
  body TEXT NOT NULL,
  cause INTEGER NOT NULL,
  origin TEXT NOT NULL,
  outcome TEXT NOT NULL,
  definitions_version INTEGER NOT NULL);
CREATE UNIQUE INDEX events_key ON events(key) WHERE key IS NOT NULL;
CREATE INDEX events_contact ON events(contact_id, id);
CREATE TABLE outbox(
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  contact_id INTEGER NOT NULL,
  channel TEXT NOT NULL,
  recipient TEXT NOT NULL,
  text TEXT NOT NULL,
  purpose TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  cause_event INTEGER NOT NULL,
  cause TEXT NOT NULL,
  status TEXT NOT NULL);
CREATE INDEX outbox_status ON outbox(status, id);
CREATE TABLE definitions(
  version INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  loaded_at INTEGER NOT NULL);
)sql",
        // 2: flows. Structured message content and durable timers.
        R"sql(
ALTER TABLE outbox ADD COLUMN content TEXT NOT NULL DEFAULT '{}';
CREATE TABLE timers(
  id INTEGER PRIMARY KEY,
  due INTEGER NOT NULL,
  contact_id INTEGER NOT NULL,
  kind TEXT NOT NULL);
CREATE INDEX timers_due ON timers(due, id);
INSERT INTO meta(name, value) VALUES ('last_timer', 0);
)sql",
        // 3: external requests made by flows.
        R"sql(
CREATE TABLE requests(
  id INTEGER PRIMARY KEY,
  contact_id INTEGER NOT NULL,
  method TEXT NOT NULL,
  url TEXT NOT NULL,
  headers TEXT NOT NULL,
  body TEXT NOT NULL,
  timeout_ms INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  flow TEXT NOT NULL,
  block TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0);
CREATE INDEX requests_pending ON requests(done, id);
)sql",
        // 4: channels. The dispatcher reads waiting rows by due time; receipts find rows by the
        // platform's id.
        R"sql(
ALTER TABLE outbox ADD COLUMN due INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN external_id TEXT;
UPDATE outbox SET due = created_at;
CREATE INDEX outbox_due ON outbox(due, id) WHERE status IN ('pending', 'deferred');
CREATE INDEX outbox_external ON outbox(channel, external_id) WHERE external_id IS NOT NULL;
)sql",
        // 5: segment membership as rows, so a broadcast finds its recipients without reading
        // every contact. Filled from the documents of an existing file.
        R"sql(
CREATE TABLE contact_segments(
  segment TEXT NOT NULL,
  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  entered_at INTEGER NOT NULL,
  PRIMARY KEY(segment, contact_id)) WITHOUT ROWID;
CREATE INDEX contact_segments_contact ON contact_segments(contact_id);
INSERT INTO contact_segments(segment, contact_id, entered_at)
  SELECT s.key, c.id, CAST(round((julianday(s.value) - 2440587.5) * 86400000.0) AS INTEGER)
  FROM contacts c, json_each(c.doc, '$.segments') s;
)sql",
        // 6: indexes no query of the store uses. Every log row and outbox row paid an entry in
        // them (a quarter of the B-tree writes of a sequence step); the log is read by id and by
        // key, the outbox by id, key, due time and platform id.
        R"sql(
DROP INDEX IF EXISTS events_contact;
DROP INDEX IF EXISTS outbox_status;
)sql",
        // 7: contact documents are written in the stored shape, which leaves default values out
        // (detail::contact_shape). Nothing to convert: this version reads both shapes. The step
        // exists so that an older tagflow, which expects every key, refuses the file
        // (schema_mismatch) instead of misreading it.
        R"sql(
SELECT 1;
)sql",
        // 8: a merge moves the timers of the contact that goes to the one that stays. Without an
        // index by contact that was a scan of every pending timer (36 ms per merge at a million
        // timers, with the write lock held).
        R"sql(
CREATE INDEX IF NOT EXISTS timers_contact ON timers(contact_id);
)sql",
    };
    return steps;
}

// Parses a stored contact document. The parsed tree only lives while the contact is built, so
// it takes its memory from one arena instead of an allocation per node.
contact parse_contact(std::string_view doc) {
    unsigned char buffer[16384];
    json::monotonic_resource arena(buffer, sizeof buffer);
    return detail::contact_from_json(json::parse(doc, &arena));
}

const std::string message_columns = "id, key, contact_id, channel, recipient, text, purpose, created_at, "
                                    "cause_event, cause, status, content";

class sqlite_store final : public store {
public:
    sqlite_store(const std::string& path, const sqlite_options& options) : db_(path, open(options)) {
        sql::migrate(db_, migrations());
    }

    void begin_unit(bool write) override {
        if (unit_) {
            throw error(errc::store_failure, "a store unit is already open; units do not nest");
        }
        // A writing unit takes the write lock at once: it reads before it writes, and a deferred
        // transaction could fail with SQLITE_BUSY at its first write after all that work.
        unit_.emplace(db_, write ? sql::transaction::mode::immediate : sql::transaction::mode::deferred);
    }

    void commit_unit() override {
        if (!unit_) {
            throw error(errc::store_failure, "commit_unit without begin_unit");
        }
        unit_->commit(); // on failure the unit stays open, and abandoning it rolls back
        unit_.reset();
    }

    // The transaction guard rolls back what was not committed.
    void abandon_unit() noexcept override { unit_.reset(); }

    void apply(const change_set& changes) override {
        if (!unit_) {
            sql::transaction tx(db_);
            write(changes);
            tx.commit();
            return;
        }
        // Inside a unit a failed apply must still write nothing: a savepoint undoes just it.
        db_.cached("SAVEPOINT apply_changes").execute();
        try {
            write(changes);
        } catch (...) {
            sqlite3_exec(db_.handle(), "ROLLBACK TO apply_changes; RELEASE apply_changes", nullptr, nullptr,
                         nullptr);
            throw;
        }
        db_.cached("RELEASE apply_changes").execute();
    }

    void write(const change_set& changes) {
        try {
            write_rows(changes);
        } catch (...) {
            // Rows still waiting belong to the failed change set: none may run with the next one.
            for (auto* rows : {&contact_rows_, &identity_rows_, &tag_rows_, &segment_rows_, &event_rows_,
                               &message_rows_, &timer_rows_, &removed_timer_rows_}) {
                rows->clear();
            }
            throw;
        }
    }

    void write_rows(const change_set& changes) {
        for (auto id : changes.removed_contacts) {
            db_.cached("DELETE FROM contacts WHERE id = ?").run(id);
        }
        contact_id last_contact = 0;
        for (const auto& c : changes.contacts) {
            contact_rows_.add(c.id, c.profile.phone, c.profile.email, c.profile.customer_id,
                              detail::contact_json_text(c, detail::contact_shape::stored));
            last_contact = std::max(last_contact, c.id);
        }
        // The rows below refer to their contact (foreign keys are checked at once), so the
        // contacts go in first.
        contact_rows_.flush();
        for (const auto& c : changes.contacts) {
            write_contact_parts(c, changes.same_identities.count(c.id) == 0,
                                changes.same_tags.count(c.id) == 0, changes.same_segments.count(c.id) == 0,
                                changes.new_contacts.count(c.id) != 0);
        }
        identity_rows_.flush();
        tag_rows_.flush();
        segment_rows_.flush();
        if (last_contact > 0) {
            db_.cached("UPDATE meta SET value = max(value, ?) WHERE name = 'last_contact'").run(last_contact);
        }
        for (const auto& e : changes.events) {
            event_rows_.add(e.id, e.contact, e.kind,
                            e.key.empty() ? std::optional<std::string_view>{} : std::string_view(e.key),
                            millis(e.at), e.body, e.cause, e.origin, e.outcome, e.definitions_version);
        }
        event_rows_.flush();
        for (const auto& m : changes.messages) {
            message_rows_.add(m.id, m.key, m.contact, m.to.channel, m.to.external_id, m.text, m.purpose,
                              millis(m.created_at), m.cause_event, m.cause, to_string(m.status),
                              detail::serialize_scratch([&m](json::storage_ptr sp) {
                                  return detail::message_content_to_json(m, std::move(sp));
                              }),
                              millis(m.due()),
                              m.external_id.empty() ? std::optional<std::string_view>{}
                                                    : std::string_view(m.external_id));
        }
        message_rows_.flush();
        for (const auto& m : changes.message_updates) {
            auto& st = db_.cached(
                "UPDATE outbox SET contact_id = ?, status = ?, content = ?, due = ?, external_id = ? "
                "WHERE id = ?");
            st.run(m.contact, std::string(to_string(m.status)),
                   detail::serialize_scratch([&m](json::storage_ptr sp) {
                       return detail::message_content_to_json(m, std::move(sp));
                   }),
                   millis(m.due()), m.external_id.empty() ? std::optional<std::string_view>{} : m.external_id,
                   m.id);
        }
        for (auto id : changes.removed_timers) {
            removed_timer_rows_.add(id);
        }
        // Before the inserts: a timer put off (a paused step) comes back under its old id.
        removed_timer_rows_.flush();
        std::int64_t last_timer = 0;
        for (const auto& t : changes.timers) {
            timer_rows_.add(t.id, millis(t.due), t.contact, t.kind);
            last_timer = std::max(last_timer, t.id);
        }
        timer_rows_.flush();
        if (last_timer > 0) {
            // Fired timers are deleted, so the highest id ever used lives in meta.
            db_.cached("UPDATE meta SET value = max(value, ?) WHERE name = 'last_timer'").run(last_timer);
        }
        for (const auto& [from, to] : changes.moved_timers) {
            db_.cached("UPDATE timers SET contact_id = ? WHERE contact_id = ?").run(to, from);
        }
        for (const auto& r : changes.requests) {
            json::array headers;
            for (const auto& [name, value] : r.headers) {
                headers.emplace_back(json::array{json::string(name), json::string(value)});
            }
            db_.cached("INSERT INTO requests(id, contact_id, method, url, headers, body, timeout_ms, "
                       "created_at, flow, "
                       "block) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                .run(r.id, r.contact, r.method, r.url, json::serialize(headers), r.body,
                     static_cast<std::int64_t>(r.timeout.count()), millis(r.created_at), r.flow, r.block);
        }
        for (auto id : changes.completed_requests) {
            db_.cached("UPDATE requests SET done = 1 WHERE id = ?").run(id);
        }
        if (const auto& d = changes.definitions) {
            db_.cached("INSERT INTO definitions(version, source, loaded_at) VALUES (?, ?, ?)")
                .run(d->version, d->source, millis(d->loaded_at));
        }
    }

    std::optional<contact_id> find_by_identity(const identity& id) override {
        auto& st = db_.cached("SELECT contact_id FROM identities WHERE channel = ? AND external_id = ?");
        st.bind_all(id.channel, id.external_id);
        return single_id(st);
    }
    std::optional<contact_id> find_by_phone(const std::string& phone) override {
        auto& st = db_.cached("SELECT id FROM contacts WHERE phone = ? AND phone <> '' ORDER BY id LIMIT 1");
        st.bind_all(phone);
        return single_id(st);
    }
    std::optional<contact_id> find_by_email(const std::string& email) override {
        auto& st = db_.cached("SELECT id FROM contacts WHERE email = ? AND email <> '' ORDER BY id LIMIT 1");
        st.bind_all(email);
        return single_id(st);
    }
    std::optional<contact_id> find_by_customer_id(const std::string& customer_id) override {
        auto& st = db_.cached(
            "SELECT id FROM contacts WHERE customer_id = ? AND customer_id <> '' ORDER BY id LIMIT 1");
        st.bind_all(customer_id);
        return single_id(st);
    }

    std::optional<contact> load_contact(contact_id id) override {
        auto& st = db_.cached("SELECT doc FROM contacts WHERE id = ?");
        st.bind_all(id);
        if (!st.step()) {
            return std::nullopt;
        }
        std::optional<contact> c;
        try {
            c = parse_contact(st.get_text_view(0)); // the view needs the row: reset only after
        } catch (...) {
            st.reset();
            throw;
        }
        st.reset();
        return c;
    }

    std::vector<contact> load_contacts(contact_id after, std::size_t limit) override {
        auto& st = db_.cached("SELECT doc FROM contacts WHERE id > ? ORDER BY id LIMIT ?");
        st.bind_all(after, static_cast<std::int64_t>(limit));
        std::vector<contact> out;
        out.reserve(std::min<std::size_t>(limit, 4096));
        while (st.step()) {
            out.push_back(parse_contact(st.get_text_view(0)));
        }
        return out;
    }

    std::vector<contact_id> segment_members(const std::string& segment, contact_id after,
                                            std::size_t limit) override {
        auto& st = db_.cached("SELECT contact_id FROM contact_segments WHERE segment = ? AND contact_id > ? "
                              "ORDER BY contact_id LIMIT ?");
        st.bind_all(segment, after, static_cast<std::int64_t>(limit));
        std::vector<contact_id> out;
        while (st.step()) {
            out.push_back(st.get_int64(0));
        }
        return out;
    }

    std::vector<contact_id> contact_ids() override {
        auto& st = db_.cached("SELECT id FROM contacts ORDER BY id");
        std::vector<contact_id> out;
        while (st.step()) {
            out.push_back(st.get_int64(0));
        }
        return out;
    }

    std::optional<std::string> find_outcome(const std::string& key) override {
        auto& st = db_.cached("SELECT outcome FROM events WHERE key = ?");
        st.bind_all(key);
        if (!st.step()) {
            return std::nullopt;
        }
        auto out = st.get_text(0);
        st.reset();
        return out;
    }

    std::vector<event_record> events(std::int64_t after_id, std::size_t limit) override {
        auto& st = db_.cached("SELECT id, contact_id, kind, key, at, body, cause, origin, outcome, "
                              "definitions_version FROM events WHERE id > ? ORDER BY id LIMIT ?");
        st.bind_all(after_id, static_cast<std::int64_t>(limit));
        std::vector<event_record> out;
        while (st.step()) {
            event_record r;
            r.id = st.get_int64(0);
            r.contact = st.get_int64(1);
            r.kind = st.get_text(2);
            r.key = st.get_optional_text(3).value_or("");
            r.at = from_millis(st.get_int64(4));
            r.body = st.get_text(5);
            r.cause = st.get_int64(6);
            r.origin = st.get_text(7);
            r.outcome = st.get_text(8);
            r.definitions_version = static_cast<int>(st.get_int64(9));
            out.push_back(std::move(r));
        }
        return out;
    }

    void visit_tags(const std::function<void(contact_id, const std::string&)>& visit) override {
        auto& st = db_.cached("SELECT contact_id, tag FROM contact_tags ORDER BY tag, contact_id");
        st.bind_all();
        std::string tag;
        while (st.step()) {
            tag = st.get_text(1);
            visit(st.get_int64(0), tag);
        }
    }

    std::vector<outbound_message> messages(std::int64_t after_id, std::size_t limit) override {
        auto& st = db_.cached("SELECT " + message_columns + " FROM outbox WHERE id > ? ORDER BY id LIMIT ?");
        st.bind_all(after_id, static_cast<std::int64_t>(limit));
        return read_messages(st);
    }

    std::vector<outbound_message> messages_with_key_prefix(const std::string& prefix,
                                                           const std::string& after_key,
                                                           std::size_t limit) override {
        // A range on the unique key index. Keys are compared as bytes (BINARY collation); the
        // prefix's range ends before the prefix with its last byte raised, or runs to the end
        // when every byte is 0xFF (or the prefix is empty).
        std::string end = prefix;
        while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xFF) {
            end.pop_back();
        }
        if (!end.empty()) {
            end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
        }
        const bool after = !(after_key < prefix);
        // Plain comparisons (no OR), so SQLite walks the key index over just the range.
        const std::string query = "SELECT " + message_columns + " FROM outbox WHERE key " +
                                  (after ? ">" : ">=") + " ?" + (end.empty() ? "" : " AND key < ?") +
                                  " ORDER BY key LIMIT ?";
        auto& st = db_.cached(query);
        const std::string& from = after ? after_key : prefix;
        if (end.empty()) {
            st.bind_all(from, static_cast<std::int64_t>(limit));
        } else {
            st.bind_all(from, end, static_cast<std::int64_t>(limit));
        }
        return read_messages(st);
    }

    std::optional<outbound_message> find_message(std::int64_t id) override {
        auto& st = db_.cached("SELECT " + message_columns + " FROM outbox WHERE id = ?");
        st.bind_all(id);
        auto rows = read_messages(st);
        return rows.empty() ? std::nullopt : std::optional<outbound_message>(std::move(rows.front()));
    }

    std::optional<outbound_message> find_message_by_external_id(const std::string& channel,
                                                                const std::string& external_id) override {
        auto& st = db_.cached("SELECT " + message_columns +
                              " FROM outbox WHERE channel = ? AND external_id = ? ORDER BY id LIMIT 1");
        st.bind_all(channel, external_id);
        auto rows = read_messages(st);
        return rows.empty() ? std::nullopt : std::optional<outbound_message>(std::move(rows.front()));
    }

    std::vector<outbound_message> due_messages(time_point until, std::size_t limit) override {
        auto& st = db_.cached("SELECT " + message_columns +
                              " FROM outbox WHERE status IN ('pending', 'deferred') AND due <= ? "
                              "ORDER BY due, id LIMIT ?");
        st.bind_all(millis(until), static_cast<std::int64_t>(limit));
        return read_messages(st);
    }

    std::vector<outbound_message> read_messages(sql::statement& st) {
        std::vector<outbound_message> out;
        while (st.step()) {
            outbound_message m;
            m.id = st.get_int64(0);
            m.key = st.get_text(1);
            m.contact = st.get_int64(2);
            m.to = identity{st.get_text(3), st.get_text(4)};
            m.text = st.get_text(5);
            m.purpose = st.get_text(6);
            m.created_at = from_millis(st.get_int64(7));
            m.cause_event = st.get_int64(8);
            m.cause = st.get_text(9);
            m.status = parse_message_status(st.get_text(10)).value_or(message_status::pending);
            detail::message_content_from_json(json::parse(st.get_text(11)), m);
            out.push_back(std::move(m));
        }
        return out;
    }

    std::optional<definitions_record> latest_definitions() override {
        return read_definitions(
            db_.cached("SELECT version, source, loaded_at FROM definitions ORDER BY version "
                       "DESC LIMIT 1"));
    }
    std::optional<definitions_record> find_definitions(int version) override {
        auto& st = db_.cached("SELECT version, source, loaded_at FROM definitions WHERE version = ?");
        st.bind_all(version);
        return read_definitions(st);
    }

    std::vector<timer_record> due_timers(time_point until, std::size_t limit) override {
        auto& st = db_.cached(
            "SELECT id, due, contact_id, kind FROM timers WHERE due <= ? ORDER BY due, id LIMIT ?");
        st.bind_all(millis(until), static_cast<std::int64_t>(limit));
        std::vector<timer_record> out;
        while (st.step()) {
            out.push_back(
                timer_record{st.get_int64(0), from_millis(st.get_int64(1)), st.get_int64(2), st.get_text(3)});
        }
        return out;
    }

    std::vector<http_request> pending_requests(std::size_t limit) override {
        auto& st = db_.cached(
            "SELECT id, contact_id, method, url, headers, body, timeout_ms, created_at, flow, block "
            "FROM requests WHERE done = 0 ORDER BY id LIMIT ?");
        st.bind_all(static_cast<std::int64_t>(limit));
        std::vector<http_request> out;
        while (st.step()) {
            http_request r;
            r.id = st.get_int64(0);
            r.contact = st.get_int64(1);
            r.method = st.get_text(2);
            r.url = st.get_text(3);
            const auto headers = json::parse(st.get_text(4)); // kept alive for the loop below
            for (const auto& h : headers.as_array()) {
                const auto& pair = h.as_array();
                r.headers.emplace_back(std::string(pair.at(0).as_string()),
                                       std::string(pair.at(1).as_string()));
            }
            r.body = st.get_text(5);
            r.timeout = duration{st.get_int64(6)};
            r.created_at = from_millis(st.get_int64(7));
            r.flow = st.get_text(8);
            r.block = st.get_text(9);
            out.push_back(std::move(r));
        }
        return out;
    }

    store_counters counters() override {
        store_counters c;
        c.last_contact = scalar("SELECT value FROM meta WHERE name = 'last_contact'");
        c.last_event = scalar("SELECT coalesce(max(id), 0) FROM events");
        c.last_message = scalar("SELECT coalesce(max(id), 0) FROM outbox");
        c.last_timer = scalar("SELECT value FROM meta WHERE name = 'last_timer'");
        c.last_request = scalar("SELECT coalesce(max(id), 0) FROM requests");
        return c;
    }

private:
    static sql::open_options open(const sqlite_options& options) {
        sql::open_options o;
        o.busy_timeout_ms = options.busy_timeout_ms;
        o.synchronous = options.sync == sqlite_options::durability::full ? sql::open_options::sync::full
                                                                         : sql::open_options::sync::normal;
        o.mmap_size = options.mmap_bytes;
        return o;
    }

    // Everything of a contact but its own row, which write_rows has already put in.
    void write_contact_parts(const contact& c, bool identities_changed, bool tags_changed,
                             bool segments_changed, bool is_new) {
        // Identities are only ever added (or moved by a merge, whose loser was deleted first), so
        // an upsert keeps this cheap without deleting rows first.
        if (identities_changed) {
            for (const auto& id : c.identities) {
                identity_rows_.add(id.channel, id.external_id, c.id);
            }
        }
        if (tags_changed) {
            if (!is_new) {
                // Rows still waiting run first, so the delete sees the table as a row-by-row
                // write would.
                tag_rows_.flush();
                db_.cached("DELETE FROM contact_tags WHERE contact_id = ?").run(c.id);
            }
            for (const auto& [tag, at] : c.tags) {
                tag_rows_.add(c.id, tag, millis(at));
            }
        }
        if (segments_changed) {
            if (!is_new) {
                segment_rows_.flush();
                db_.cached("DELETE FROM contact_segments WHERE contact_id = ?").run(c.id);
            }
            for (const auto& [segment, at] : c.segments) {
                segment_rows_.add(segment, c.id, millis(at));
            }
        }
    }

    static std::optional<contact_id> single_id(sql::statement& st) {
        if (!st.step()) {
            return std::nullopt;
        }
        const auto id = st.get_int64(0);
        st.reset();
        return id;
    }

    static std::optional<definitions_record> read_definitions(sql::statement& st) {
        if (!st.step()) {
            return std::nullopt;
        }
        definitions_record r{static_cast<int>(st.get_int64(0)), st.get_text(1), from_millis(st.get_int64(2))};
        st.reset();
        return r;
    }

    std::int64_t scalar(std::string_view query) {
        auto& st = db_.cached(query);
        st.step();
        const auto v = st.get_int64(0);
        st.reset();
        return v;
    }

    sql::database db_;
    std::optional<sql::transaction> unit_; // open between begin_unit and its commit or abandon
    // Multi-row statements for the rows a change set adds or removes; empty between apply() calls.
    sql::bulk_rows contact_rows_{
        db_, "INSERT INTO contacts(id, phone, email, customer_id, doc)", 5,
        "ON CONFLICT(id) DO UPDATE SET phone = excluded.phone, email = excluded.email, "
        "customer_id = excluded.customer_id, doc = excluded.doc"};
    sql::bulk_rows identity_rows_{
        db_, "INSERT INTO identities(channel, external_id, contact_id)", 3,
        "ON CONFLICT(channel, external_id) DO UPDATE SET contact_id = excluded.contact_id"};
    sql::bulk_rows tag_rows_{db_, "INSERT INTO contact_tags(contact_id, tag, added_at)", 3};
    sql::bulk_rows segment_rows_{db_, "INSERT INTO contact_segments(segment, contact_id, entered_at)", 3};
    sql::bulk_rows event_rows_{
        db_,
        "INSERT INTO events(id, contact_id, kind, key, at, body, cause, origin, outcome, "
        "definitions_version)",
        10};
    sql::bulk_rows message_rows_{db_,
                                 "INSERT INTO outbox(id, key, contact_id, channel, recipient, text, purpose, "
                                 "created_at, cause_event, cause, status, content, due, external_id)",
                                 14};
    sql::bulk_rows timer_rows_{db_, "INSERT INTO timers(id, due, contact_id, kind)", 4};
    sql::bulk_rows removed_timer_rows_{db_, "DELETE FROM timers WHERE id IN (", 1, ")"};
};

} // namespace

std::unique_ptr<store> open_sqlite_store(const std::string& path, sqlite_options options) {
    if (options.mmap_bytes < 0) {
        throw error(errc::invalid_argument,
                    "sqlite_options::mmap_bytes must be 0 (no map) or a positive size in bytes, not " +
                        std::to_string(options.mmap_bytes));
    }
    return std::make_unique<sqlite_store>(path, options);
}

} // namespace tagflow
