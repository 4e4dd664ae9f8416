// The `tagflow` command line: check definitions, run scenario files, ingest events into a
// SQLite file and inspect what it holds; lint flows and draw them.
#include <tagflow/channels.hpp>
#include <tagflow/graph.hpp>
#include <tagflow/lint.hpp>
#include <tagflow/tagflow.hpp>
#include <tagflow/webhook.hpp>

#include "detail/codec.hpp"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

#include <pthread.h>

namespace {

namespace json = boost::json;

int check(const std::string& file) {
    const auto defs = tagflow::definitions::load_file(file);
    fmt::print("{}: ok (schema {}, {} tags, {} fields, {} rules, {} flows, {} sequences)\n", file,
               defs.schema_version(), defs.tags().size(), defs.fields().size(), defs.rules().size(),
               defs.flows().size(), defs.sequences().size());
    return 0;
}

// Warnings alone pass (exit 0), so lint can gate CI on errors while still showing warnings.
int lint(const std::string& file) {
    const auto findings = tagflow::lint_file(file);
    bool errors = false;
    for (const auto& f : findings) {
        fmt::print("{} {} [{}] {}\n", tagflow::to_string(f.level), f.path, f.code, f.message);
        errors = errors || f.level == tagflow::lint_finding::severity::error;
    }
    if (findings.empty()) {
        fmt::print("no findings\n");
    }
    return errors ? 1 : 0;
}

int graph(const std::string& file, const std::string& flow, const std::string& format,
          const std::string& output) {
    const auto defs = tagflow::definitions::load_file(file);
    const auto text =
        format == "mermaid" ? tagflow::flow_to_mermaid(defs, flow) : tagflow::flow_to_dot(defs, flow);
    if (output.empty()) {
        fmt::print("{}", text);
        return 0;
    }
    std::ofstream out(output, std::ios::binary);
    out << text;
    out.close();
    if (!out) {
        throw tagflow::error(tagflow::errc::invalid_argument, "cannot write " + output);
    }
    return 0;
}

// Prints a plan or a status: counts per status, blocked per rule, cost per currency, then one
// line per recipient.
void print_broadcast(const tagflow::broadcast_summary& s, bool recipients) {
    fmt::print("broadcast {}: {} recipients\n", s.name, s.recipients.size());
    for (const auto& [status, n] : s.by_status) {
        fmt::print("  {:<12} {}\n", status, n);
    }
    for (const auto& [rule, n] : s.blocked_by_reason) {
        fmt::print("  blocked by {}: {}\n", rule, n);
    }
    for (const auto& [currency, amount] : s.cost) {
        fmt::print("  estimated cost: {} {}\n", amount, currency);
    }
    if (s.already_decided > 0) {
        fmt::print("  already decided by an earlier send: {}\n", s.already_decided);
    }
    if (!recipients) {
        return;
    }
    for (const auto& r : s.recipients) {
        std::string extra;
        if (r.not_before && r.status == tagflow::message_status::deferred) {
            extra += " until " + tagflow::format_time(*r.not_before);
        }
        if (!r.rule.empty()) {
            extra += " [" + r.rule + "]";
        }
        if (r.cost > 0) {
            extra += fmt::format(" {} {}", r.cost, r.currency);
        }
        fmt::print("  #{} {} {}{}\n", r.contact, r.to.to_string(), tagflow::to_string(r.status), extra);
    }
}

struct broadcast_args {
    std::string action, db, defs, name, segment, audience, text, purpose = "promotional", at;
    std::vector<std::string> channels;
    bool recipients = false;
};

int broadcast(const broadcast_args& a) {
    auto e = tagflow::engine::open(a.db);
    if (!a.defs.empty()) {
        e.load_definitions(tagflow::definitions::load_file(a.defs));
    }
    if (a.action == "status") {
        print_broadcast(tagflow::broadcast_status(e, a.name), a.recipients);
        return 0;
    }
    if (a.action == "cancel") {
        fmt::print("cancelled {} messages of broadcast {}\n", tagflow::cancel_broadcast(e, a.name), a.name);
        return 0;
    }
    tagflow::broadcast_spec spec;
    spec.name = a.name;
    spec.segment = a.segment;
    spec.audience = a.audience;
    spec.text = a.text;
    spec.purpose = a.purpose;
    spec.channels = a.channels;
    if (!a.at.empty()) {
        spec.at = tagflow::parse_time(a.at);
    }
    print_broadcast(a.action == "plan" ? tagflow::plan_broadcast(e, spec) : tagflow::send_broadcast(e, spec),
                    a.recipients);
    return 0;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw tagflow::error(tagflow::errc::not_found, "cannot read " + path);
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The "webhooks" entry of a channels file: secrets for verifying inbound webhooks. The other
// entries are adapters (load_channels).
void read_webhook_secrets(const json::object& o, tagflow::webhook_settings& w) {
    auto text = [&](const json::object& from, const char* key, std::string& out) {
        if (const auto* v = from.if_contains(key)) {
            if (!v->is_string()) {
                throw tagflow::definition_error(std::string("$.webhooks.") + key, "expected a string");
            }
            out = std::string(v->get_string());
        }
    };
    auto section = [&](const char* name) -> const json::object* {
        const auto* v = o.if_contains(name);
        if (!v) {
            return nullptr;
        }
        if (!v->is_object()) {
            throw tagflow::definition_error(std::string("$.webhooks.") + name, "expected an object");
        }
        return &v->get_object();
    };
    for (const auto& [k, v] : o) {
        if (k != "zalo" && k != "messenger" && k != "whatsapp" && k != "telegram" && k != "generic") {
            throw tagflow::definition_error(
                "$.webhooks." + std::string(k),
                "unknown key; expected one of: zalo, messenger, whatsapp, telegram, generic");
        }
    }
    if (const auto* z = section("zalo")) {
        text(*z, "app_id", w.zalo.app_id);
        text(*z, "oa_secret", w.zalo.oa_secret);
    }
    if (const auto* m = section("messenger")) {
        text(*m, "app_secret", w.messenger.app_secret);
        text(*m, "verify_token", w.messenger.verify_token);
    }
    if (const auto* m = section("whatsapp")) {
        text(*m, "app_secret", w.whatsapp.app_secret);
        text(*m, "verify_token", w.whatsapp.verify_token);
    }
    if (const auto* t = section("telegram")) {
        text(*t, "secret_token", w.telegram.secret_token);
    }
    if (const auto* g = section("generic")) {
        text(*g, "secret", w.generic.secret);
    }
}

struct stats_args {
    std::string db, tz = "Asia/Ho_Chi_Minh", csv;
    std::vector<std::string> tables;
    bool as_json = false;
};

int stats(const stats_args& a) {
    const auto e = tagflow::engine::open(a.db);
    tagflow::analytics_options options;
    options.time_zone = a.tz;
    const auto report = tagflow::analyze(e, options);
    if (a.as_json) {
        fmt::print("{}\n", tagflow::to_json(report));
    } else if (!a.csv.empty()) {
        fmt::print("{}", tagflow::to_csv(report, a.csv));
    } else {
        fmt::print("{}", tagflow::format_tables(report, a.tables));
    }
    return 0;
}

int report(const std::string& db, const std::string& out, const std::string& title, const std::string& tz) {
    const auto e = tagflow::engine::open(db);
    tagflow::analytics_options options;
    options.time_zone = tz;
    tagflow::report_options ropts;
    if (!title.empty()) {
        ropts.title = title;
    }
    ropts.subtitle = db;
    const auto html = tagflow::render_html_report(tagflow::analyze(e, options), ropts);
    std::ofstream file(out, std::ios::binary);
    file << html;
    file.close();
    if (!file) {
        throw tagflow::error(tagflow::errc::invalid_argument, "cannot write " + out);
    }
    fmt::print("wrote {} ({} bytes)\n", out, html.size());
    return 0;
}

struct serve_args {
    std::string db, defs, channels, bind = "127.0.0.1", port_file;
    std::uint16_t port = 8080;
};

// Runtime (timers), dispatcher (adapters) and webhook server together until SIGINT/SIGTERM.
int serve(const serve_args& a) {
    // Block the stop signals before any thread starts, so every thread inherits the mask and
    // only sigwait below receives them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    auto e = tagflow::engine::open(a.db);
    if (!a.defs.empty()) {
        e.load_definitions(tagflow::definitions::load_file(a.defs));
    }
    tagflow::webhook_settings hooks;
    hooks.address = a.bind;
    hooks.port = a.port;
    tagflow::channel_set adapters;
    if (!a.channels.empty()) {
        boost::system::error_code ec;
        auto doc = json::parse(read_text(a.channels), ec);
        if (ec || !doc.is_object()) {
            throw tagflow::definition_error("$", "a channels file is a JSON object");
        }
        auto& o = doc.as_object();
        if (const auto* w = o.if_contains("webhooks")) {
            if (!w->is_object()) {
                throw tagflow::definition_error("$.webhooks", "expected an object");
            }
            read_webhook_secrets(w->get_object(), hooks);
            o.erase("webhooks");
        }
        adapters = tagflow::load_channels(json::serialize(o),
                                          std::shared_ptr<tagflow::http_client>(tagflow::make_http_client()));
    }
    tagflow::dispatcher d(e);
    const auto defs = e.current_definitions();
    for (const auto& [name, adapter] : adapters) {
        d.add_channel(adapter);
        // Policies live in the definitions (so replays decide the same); point out a channel
        // that has an adapter but no policy there.
        if (!defs.channel_policy(name) && !adapter->default_policy().empty()) {
            fmt::print(
                stderr,
                "tagflow serve: note: channel \"{}\" has no policy in the definitions; its adapter suggests "
                "\"channels\": {{\"{}\": {{\"policy\": \"{}\"}}}}\n",
                name, name, adapter->default_policy());
        }
    }
    tagflow::runtime_options ropts;
    ropts.dispatcher = &d;
    ropts.on_error = [](const std::exception& ex) { fmt::print(stderr, "tagflow serve: {}\n", ex.what()); };
    tagflow::runtime rt(e, ropts);
    rt.start();
    // The engine overload drops profile fields the definitions do not declare (Zalo's address);
    // the sink goes through the runtime so its thread wakes for new timers and messages.
    tagflow::webhook_server server(
        e, [&rt](std::span<const tagflow::event> events) { return rt.ingest_batch(events); }, hooks);
    server.start();
    fmt::print("tagflow serve: listening on http://{}:{}/webhooks/ ({} channel adapters)\n", a.bind,
               server.port(), adapters.size());
    std::fflush(stdout);
    if (!a.port_file.empty()) {
        std::ofstream(a.port_file) << server.port() << "\n";
    }
    int received = 0;
    sigwait(&stop_signals, &received);
    fmt::print("tagflow serve: stopping\n");
    server.stop();
    rt.stop();
    return 0;
}

int simulate(const std::vector<std::string>& files, const std::string& db, bool quiet) {
    int failed = 0;
    for (const auto& file : files) {
        std::unique_ptr<tagflow::store> backing;
        if (!db.empty()) {
            backing = tagflow::open_sqlite_store(db);
        }
        const auto result = tagflow::run_scenario_file(file, std::move(backing));
        if (!quiet || !result.passed) {
            fmt::print("{}", result.transcript);
        } else {
            fmt::print("{}: PASSED ({} steps, {} checks)\n", result.name, result.steps, result.checks);
        }
        failed += result.passed ? 0 : 1;
    }
    return failed == 0 ? 0 : 1;
}

int ingest(const std::string& db, const std::string& defs, const std::string& input, std::size_t batch) {
    auto engine = tagflow::engine::open(db);
    if (!defs.empty()) {
        engine.load_definitions(tagflow::definitions::load_file(defs));
    }
    std::ifstream file;
    if (input != "-") {
        file.open(input);
        if (!file) {
            throw tagflow::error(tagflow::errc::not_found, "cannot read " + input);
        }
    }
    std::istream& in = input == "-" ? std::cin : file;
    std::vector<tagflow::event> pending;
    auto flush = [&] {
        for (const auto& r : engine.ingest_batch(pending)) {
            fmt::print("{}\n", json::serialize(tagflow::detail::result_to_json(r)));
        }
        pending.clear();
    };
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        try {
            pending.push_back(tagflow::event_from_json(line));
        } catch (const tagflow::event_error& e) {
            throw tagflow::event_error(e.field(), fmt::format("{} (line {})", e.detail(), number));
        }
        if (pending.size() >= batch) {
            flush();
        }
    }
    if (!pending.empty()) {
        flush();
    }
    return 0;
}

int show_contact(const std::string& db, const std::string& who) {
    auto engine = tagflow::engine::open(db);
    const auto c = engine.find_contact(tagflow::identity::parse(who));
    if (!c) {
        fmt::print(stderr, "no contact {}\n", who);
        return 1;
    }
    fmt::print("{}\n", engine.contact_json(c->id));
    return 0;
}

// Prints the cause chain of one outbound message, for "why did the bot say that?".
int why(const std::string& db, std::int64_t message_id) {
    auto engine = tagflow::engine::open(db);
    const auto ex = engine.explain(message_id);
    const auto& m = ex.message;
    fmt::print("message #{} to {} at {}\n  \"{}\"\n", m.id, m.to.to_string(),
               tagflow::format_time(m.created_at), m.text);
    fmt::print("decided by {} (key {})\n", ex.decided_by, m.key);
    fmt::print("cause chain:\n");
    for (const auto& r : ex.chain) {
        fmt::print("  #{} {} [{}] {}\n", r.id, r.kind, r.origin, r.body);
    }
    if (!ex.rules_fired.empty()) {
        fmt::print("rules that ran: {}\n", fmt::join(ex.rules_fired, ", "));
    }
    fmt::print("steps of the same processing:\n");
    for (const auto& r : ex.steps) {
        fmt::print("  #{} {} [{}] {}\n", r.id, r.kind, r.origin, r.body);
    }
    return 0;
}

// Per-block counters of every flow, as a table.
int blocks(const std::string& db) {
    auto engine = tagflow::engine::open(db);
    fmt::print("{:<20} {:<24} {:>8} {:>8} {:>10}\n", "flow", "block", "entered", "waiting", "completed");
    for (const auto& c : engine.block_counters()) {
        fmt::print("{:<20} {:<24} {:>8} {:>8} {:>10}\n", c.flow, c.block, c.entered, c.waiting, c.completed);
    }
    return 0;
}

int show_outbox(const std::string& db, std::int64_t after) {
    auto engine = tagflow::engine::open(db);
    for (const auto& m : engine.outbox(after)) {
        fmt::print("{}\n", json::serialize(tagflow::detail::message_to_json(m)));
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"tagflow: automation for chat commerce (contacts, tags, rules) on an embedded SQLite file"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string(tagflow::version_string()));

    std::string file;
    auto* check_cmd = app.add_subcommand("check", "Validate a definitions document");
    check_cmd->add_option("file", file, "Definitions JSON file")->required();

    std::vector<std::string> scenarios;
    std::string db;
    bool quiet = false;
    auto* simulate_cmd = app.add_subcommand("simulate", "Run scenario files and print their transcripts");
    simulate_cmd->add_option("files", scenarios, "Scenario JSON files")->required();
    simulate_cmd->add_option("--db", db, "Run on this SQLite file instead of in memory");
    simulate_cmd->add_flag("-q,--quiet", quiet, "Print only a summary of passing scenarios");

    std::string defs;
    std::string input = "-";
    std::size_t batch = 1;
    auto* ingest_cmd = app.add_subcommand("ingest", "Ingest JSON-lines events into a SQLite file");
    ingest_cmd->add_option("--db", db, "SQLite file")->required();
    ingest_cmd->add_option("--defs", defs, "Load this definitions file first");
    ingest_cmd->add_option("input", input, "JSON-lines file, or - for standard input");
    ingest_cmd->add_option("--batch", batch, "Events per transaction (group commit)")
        ->check(CLI::PositiveNumber);

    std::string who;
    auto* contact_cmd = app.add_subcommand("contact", "Print one contact as JSON");
    contact_cmd->add_option("--db", db, "SQLite file")->required();
    contact_cmd->add_option("identity", who, "channel:external_id")->required();

    auto* export_cmd = app.add_subcommand("export", "Print every contact and outbox row as JSON");
    export_cmd->add_option("--db", db, "SQLite file")->required();

    std::int64_t after = 0;
    auto* outbox_cmd = app.add_subcommand("outbox", "Print outbox rows as JSON lines");
    outbox_cmd->add_option("--db", db, "SQLite file")->required();
    outbox_cmd->add_option("--after", after, "Only rows with a larger id");

    auto* lint_cmd =
        app.add_subcommand("lint", "Report likely mistakes in the flows of a definitions document");
    lint_cmd->add_option("file", file, "Definitions JSON file")->required();

    std::string flow_name;
    std::string format = "dot";
    std::string output;
    auto* graph_cmd = app.add_subcommand("graph", "Draw a flow as Graphviz DOT or a Mermaid flowchart");
    graph_cmd->add_option("file", file, "Definitions JSON file")->required();
    graph_cmd->add_option("--flow", flow_name, "Name of the flow to draw")->required();
    graph_cmd->add_option("--format", format, "dot (default) or mermaid")
        ->check(CLI::IsMember({"dot", "mermaid"}));
    graph_cmd->add_option("-o,--output", output, "Write to this file instead of standard output");

    std::int64_t message_id = 0;
    auto* why_cmd = app.add_subcommand("why", "Explain why an outbound message was sent");
    why_cmd->add_option("--db", db, "SQLite file")->required();
    why_cmd->add_option("message_id", message_id, "Outbox id (see tagflow outbox)")->required();

    auto* blocks_cmd = app.add_subcommand("blocks", "Print per-block counters of every flow");
    blocks_cmd->add_option("--db", db, "SQLite file")->required();

    broadcast_args bc;
    auto* broadcast_cmd =
        app.add_subcommand("broadcast", "Plan, send, inspect or cancel a broadcast to a segment");
    broadcast_cmd->add_option("action", bc.action, "plan, send, status or cancel")
        ->required()
        ->check(CLI::IsMember({"plan", "send", "status", "cancel"}));
    broadcast_cmd->add_option("--db", bc.db, "SQLite file")->required();
    broadcast_cmd->add_option("--defs", bc.defs, "Load this definitions file first");
    broadcast_cmd->add_option("--name", bc.name, "Broadcast name (part of every recipient's key)")
        ->required();
    broadcast_cmd->add_option("--segment", bc.segment, "A segment declared in the definitions");
    broadcast_cmd->add_option("--audience", bc.audience, "Or a condition, e.g. 'tag(\"Khách VIP\")'");
    broadcast_cmd->add_option("--text", bc.text, "Message template");
    broadcast_cmd->add_option("--purpose", bc.purpose, "reply, transactional or promotional (default)");
    broadcast_cmd->add_option("--at", bc.at, "Scheduled time, RFC 3339, e.g. 2026-03-02T22:30:00+07:00");
    broadcast_cmd->add_option("--channel", bc.channels, "Channels to try in order (repeatable)");
    broadcast_cmd->add_flag("--recipients", bc.recipients, "Also print one line per recipient");

    stats_args st;
    auto* stats_cmd = app.add_subcommand("stats", "Print delivery, conversion and audience tables");
    stats_cmd->add_option("--db", st.db, "SQLite file")->required();
    stats_cmd->add_option("--tz", st.tz, "Time zone of the daily counts (default Asia/Ho_Chi_Minh)");
    stats_cmd->add_option("--table", st.tables,
                          "Only these tables (repeatable): summary, messages, causes, "
                          "broadcasts, sequence_steps, flow_blocks, daily");
    stats_cmd->add_option("--csv", st.csv, "Print one table as CSV");
    stats_cmd->add_flag("--json", st.as_json, "Print everything as JSON");

    std::string report_out, report_title, report_tz = "Asia/Ho_Chi_Minh";
    auto* report_cmd = app.add_subcommand("report", "Write a self-contained HTML report");
    report_cmd->add_option("--db", db, "SQLite file")->required();
    report_cmd->add_option("--out", report_out, "HTML file to write")->required();
    report_cmd->add_option("--title", report_title, "Page title");
    report_cmd->add_option("--tz", report_tz, "Time zone of the daily counts");

    serve_args sv;
    auto* serve_cmd =
        app.add_subcommand("serve", "Run the webhook server, timers and dispatcher on a SQLite file");
    serve_cmd->add_option("--db", sv.db, "SQLite file")->required();
    serve_cmd->add_option("--defs", sv.defs, "Load this definitions file first");
    serve_cmd->add_option("--channels", sv.channels,
                          "Channels file: adapters, and webhook secrets under \"webhooks\"");
    serve_cmd->add_option("--port", sv.port, "Port to listen on (0 picks a free one)");
    serve_cmd->add_option("--bind", sv.bind, "Address to listen on (default 127.0.0.1)");
    serve_cmd->add_option("--port-file", sv.port_file, "Write the port to this file once listening");

    CLI11_PARSE(app, argc, argv);
    try {
        if (*check_cmd) {
            return check(file);
        }
        if (*simulate_cmd) {
            return simulate(scenarios, db, quiet);
        }
        if (*ingest_cmd) {
            return ingest(db, defs, input, batch);
        }
        if (*contact_cmd) {
            return show_contact(db, who);
        }
        if (*export_cmd) {
            fmt::print("{}\n", tagflow::engine::open(db).export_json());
            return 0;
        }
        if (*lint_cmd) {
            return lint(file);
        }
        if (*graph_cmd) {
            return graph(file, flow_name, format, output);
        }
        if (*why_cmd) {
            return why(db, message_id);
        }
        if (*blocks_cmd) {
            return blocks(db);
        }
        if (*outbox_cmd) {
            return show_outbox(db, after);
        }
        if (*broadcast_cmd) {
            return broadcast(bc);
        }
        if (*serve_cmd) {
            return serve(sv);
        }
        if (*stats_cmd) {
            return stats(st);
        }
        if (*report_cmd) {
            return report(db, report_out, report_title, report_tz);
        }
    } catch (const tagflow::error& e) {
        fmt::print(stderr, "tagflow: {} ({})\n", e.what(), tagflow::to_string(e.code()));
        return 2;
    }
    return 0;
}
