#include <tagflow/error.hpp>
#include <tagflow/lint.hpp>

#include <algorithm>
#include <cstddef>
#include <set>
#include <string>
#include <vector>

namespace tagflow {

namespace {

// The runtime stops a run that passes this many blocks for one event (src/flows.cpp); quoted in
// the loop finding so the warning says what actually happens.
constexpr int loop_step_limit = 100;

// Blocks where a run stops until a later event (an answer, a timer, an HTTP answer, a human
// resuming); a loop through one is paced and the step limit starts over.
bool waits(block_kind kind) {
    return kind == block_kind::ask || kind == block_kind::form || kind == block_kind::wait ||
           kind == block_kind::request || kind == block_kind::handoff;
}

// Every exit a block names inside its own flow, in a fixed order. go_to and call leave the flow
// and are handled by the callers that care.
std::vector<const std::string*> exits_of(const block& b) {
    std::vector<const std::string*> out;
    auto add = [&](const std::string& target) {
        if (!target.empty()) {
            out.push_back(&target);
        }
    };
    for (const auto& br : b.branches) {
        add(br.next);
    }
    add(b.otherwise);
    for (const auto& p : b.paths) {
        add(p.next);
    }
    add(b.next);
    add(b.on_invalid);
    add(b.on_timeout);
    add(b.on_failure);
    return out;
}

std::size_t index_of(const flow& f, std::string_view id) {
    return static_cast<std::size_t>(f.find(id) - f.blocks.data());
}

// Which blocks of a flow a run can get to from the start, through any exit.
std::vector<bool> reachable_blocks(const flow& f) {
    std::vector<bool> seen(f.blocks.size(), false);
    std::vector<std::size_t> todo{index_of(f, f.start)};
    seen[todo.front()] = true;
    while (!todo.empty()) {
        const auto& b = f.blocks[todo.back()];
        todo.pop_back();
        for (const auto* target : exits_of(b)) {
            const auto i = index_of(f, *target);
            if (!seen[i]) {
                seen[i] = true;
                todo.push_back(i);
            }
        }
    }
    return seen;
}

// Compares JSON paths so that indices order as numbers: "[2]" before "[10]".
bool path_less(const std::string& a, const std::string& b) {
    auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < a.size() && j < b.size()) {
        if (is_digit(a[i]) && is_digit(b[j])) {
            std::size_t ie = i;
            std::size_t je = j;
            while (ie < a.size() && is_digit(a[ie])) {
                ++ie;
            }
            while (je < b.size() && is_digit(b[je])) {
                ++je;
            }
            // Paths carry no leading zeros, so a longer run is a larger number.
            const auto na = a.substr(i, ie - i);
            const auto nb = b.substr(j, je - j);
            if (na.size() != nb.size()) {
                return na.size() < nb.size();
            }
            if (na != nb) {
                return na < nb;
            }
            i = ie;
            j = je;
            continue;
        }
        if (a[i] != b[j]) {
            return a[i] < b[j];
        }
        ++i;
        ++j;
    }
    return a.size() - i < b.size() - j;
}

std::string in_quotes(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

class linter {
public:
    explicit linter(const definitions& defs) : defs_(defs), flows_(defs.flows()) {
        for (const auto& f : flows_) {
            offsets_.push_back(nodes_);
            nodes_ += f.blocks.size();
            reachable_.push_back(reachable_blocks(f));
        }
    }

    std::vector<lint_finding> run() {
        unreachable_blocks();
        loops_without_wait();
        tags_removed_never_added();
        forms_and_waits();
        flows_never_started();
        std::stable_sort(out_.begin(), out_.end(), [](const lint_finding& x, const lint_finding& y) {
            if (x.path != y.path) {
                return path_less(x.path, y.path);
            }
            return x.code < y.code;
        });
        return std::move(out_);
    }

private:
    void add(std::string path, std::string code, std::string message) {
        out_.push_back(lint_finding{lint_finding::severity::warning, std::move(path), std::move(code),
                                    std::move(message)});
    }

    std::size_t flow_index(std::string_view name) const {
        return static_cast<std::size_t>(defs_.find_flow(name) - flows_.data());
    }

    void unreachable_blocks() {
        for (std::size_t fi = 0; fi < flows_.size(); ++fi) {
            const auto& f = flows_[fi];
            for (std::size_t bi = 0; bi < f.blocks.size(); ++bi) {
                if (!reachable_[fi][bi]) {
                    add(f.blocks[bi].path, "unreachable_block",
                        "block " + in_quotes(f.blocks[bi].id) + " cannot be reached from the start of flow " +
                            in_quotes(f.name) + " (block " + in_quotes(f.start) +
                            "): no next, else, branch, path, on_invalid, on_timeout or on_failure leads to "
                            "it");
                }
            }
        }
    }

    // Whether each flow, started on its own, can run to its end without waiting. A call block
    // continues at its `next` without waiting only when its flow can; computed as a least fixed
    // point so flows that call each other without ever ending stay false.
    std::vector<bool> ends_without_wait() const {
        std::vector<bool> ends(flows_.size(), false);
        for (bool changed = true; changed;) {
            changed = false;
            for (std::size_t fi = 0; fi < flows_.size(); ++fi) {
                if (!ends[fi] && can_end(flows_[fi], ends)) {
                    ends[fi] = true;
                    changed = true;
                }
            }
        }
        return ends;
    }

    bool can_end(const flow& f, const std::vector<bool>& ends) const {
        std::vector<bool> seen(f.blocks.size(), false);
        std::vector<std::size_t> todo{index_of(f, f.start)};
        seen[todo.front()] = true;
        auto push = [&](const std::string& id) {
            const auto i = index_of(f, id);
            if (!seen[i]) {
                seen[i] = true;
                todo.push_back(i);
            }
        };
        while (!todo.empty()) {
            const auto& b = f.blocks[todo.back()];
            todo.pop_back();
            if (waits(b.kind)) {
                continue;
            }
            switch (b.kind) {
            case block_kind::end:
                return true;
            case block_kind::go_to:
                // The other flow's end finishes this one too (and returns to a caller, if any).
                if (ends[flow_index(b.flow)]) {
                    return true;
                }
                break;
            case block_kind::call:
                if (ends[flow_index(b.flow)]) {
                    if (b.next.empty()) {
                        return true;
                    }
                    push(b.next);
                }
                break;
            case block_kind::condition:
                // No branch holding and no else: the flow ends.
                if (b.otherwise.empty()) {
                    return true;
                }
                for (const auto* target : exits_of(b)) {
                    push(*target);
                }
                break;
            case block_kind::randomizer:
                for (const auto* target : exits_of(b)) {
                    push(*target);
                }
                break;
            default:
                if (b.next.empty()) {
                    return true;
                }
                push(b.next);
                break;
            }
        }
        return false;
    }

    // Edges between blocks that do not wait, across flows: what a run can do within one event.
    std::vector<std::vector<std::size_t>> waitless_edges() const {
        const auto ends = ends_without_wait();
        std::vector<std::vector<std::size_t>> edges(nodes_);
        for (std::size_t fi = 0; fi < flows_.size(); ++fi) {
            const auto& f = flows_[fi];
            for (std::size_t bi = 0; bi < f.blocks.size(); ++bi) {
                const auto& b = f.blocks[bi];
                if (waits(b.kind)) {
                    continue;
                }
                auto& to = edges[offsets_[fi] + bi];
                auto link = [&](std::size_t tf, const std::string& id) {
                    const auto ti = index_of(flows_[tf], id);
                    if (!waits(flows_[tf].blocks[ti].kind)) {
                        to.push_back(offsets_[tf] + ti);
                    }
                };
                if (b.kind == block_kind::go_to || b.kind == block_kind::call) {
                    const auto tf = flow_index(b.flow);
                    link(tf, flows_[tf].start);
                    if (b.kind == block_kind::call && !b.next.empty() && ends[tf]) {
                        link(fi, b.next);
                    }
                    continue;
                }
                for (const auto* target : exits_of(b)) {
                    link(fi, *target);
                }
            }
        }
        return edges;
    }

    static std::vector<bool> reach(const std::vector<std::vector<std::size_t>>& edges, std::size_t from) {
        std::vector<bool> seen(edges.size(), false);
        std::vector<std::size_t> todo(edges[from].begin(), edges[from].end());
        for (auto n : todo) {
            seen[n] = true;
        }
        while (!todo.empty()) {
            const auto n = todo.back();
            todo.pop_back();
            for (auto m : edges[n]) {
                if (!seen[m]) {
                    seen[m] = true;
                    todo.push_back(m);
                }
            }
        }
        return seen;
    }

    // Flow and block index of a global node number.
    std::pair<std::size_t, std::size_t> locate(std::size_t node) const {
        const auto it = std::upper_bound(offsets_.begin(), offsets_.end(), node);
        const auto fi = static_cast<std::size_t>(it - offsets_.begin()) - 1;
        return {fi, node - offsets_[fi]};
    }

    // Nodes are numbered in document order (flows, then blocks), so walking them in order and
    // skipping what is already reported puts each loop at its first block in document order.
    void loops_without_wait() {
        const auto edges = waitless_edges();
        std::vector<std::vector<std::size_t>> reverse(nodes_);
        for (std::size_t n = 0; n < nodes_; ++n) {
            for (auto m : edges[n]) {
                reverse[m].push_back(n);
            }
        }
        std::vector<bool> reported(nodes_, false);
        for (std::size_t n = 0; n < nodes_; ++n) {
            if (reported[n]) {
                continue;
            }
            const auto forward = reach(edges, n);
            if (!forward[n]) {
                continue;
            }
            const auto backward = reach(reverse, n);
            std::vector<bool> group(nodes_, false);
            for (std::size_t m = 0; m < nodes_; ++m) {
                group[m] = forward[m] && backward[m];
                reported[m] = reported[m] || group[m];
            }
            report_loop(n, cycle_through(n, edges, group));
        }
    }

    // The shortest cycle from `n` back to itself inside its group, for the message.
    static std::vector<std::size_t> cycle_through(std::size_t n,
                                                  const std::vector<std::vector<std::size_t>>& edges,
                                                  const std::vector<bool>& group) {
        constexpr auto none = static_cast<std::size_t>(-1);
        std::vector<std::size_t> parent(edges.size(), none);
        std::vector<std::size_t> queue{n};
        for (std::size_t head = 0; head < queue.size(); ++head) {
            const auto at = queue[head];
            for (auto m : edges[at]) {
                if (!group[m] || parent[m] != none) {
                    continue;
                }
                parent[m] = at;
                if (m == n) {
                    std::vector<std::size_t> path{n};
                    for (auto p = at; p != n; p = parent[p]) {
                        path.push_back(p);
                    }
                    path.push_back(n);
                    std::reverse(path.begin(), path.end());
                    return path;
                }
                queue.push_back(m);
            }
        }
        return {n, n};
    }

    void report_loop(std::size_t n, const std::vector<std::size_t>& cycle) {
        const auto [fi, bi] = locate(n);
        std::string steps;
        for (auto node : cycle) {
            const auto [cf, cb] = locate(node);
            steps += steps.empty() ? "" : " -> ";
            steps += in_quotes(flows_[cf].blocks[cb].id);
            if (cf != fi) {
                steps += " (flow " + in_quotes(flows_[cf].name) + ")";
            }
        }
        add(flows_[fi].blocks[bi].path, "loop_without_wait",
            "blocks loop without a block that waits (ask, form, wait, request, handoff): " + steps +
                "; a run that enters the loop is stopped after " + std::to_string(loop_step_limit) +
                " steps");
    }

    void tags_removed_never_added() {
        std::set<std::string> added;
        for (const auto& r : defs_.rules()) {
            for (const auto& a : r.actions) {
                if (a.what == action::kind::add_tag) {
                    added.insert(a.tag);
                }
            }
        }
        for (const auto& f : flows_) {
            for (const auto& b : f.blocks) {
                added.insert(b.add_tags.begin(), b.add_tags.end());
            }
        }
        auto check = [&](const std::string& tag, std::string path) {
            if (!added.count(tag)) {
                add(std::move(path), "tag_removed_never_added",
                    "tag " + in_quotes(tag) +
                        " is removed here but no rule or tag block adds it; unless the application adds it "
                        "through the API, this removal never does anything");
            }
        };
        for (const auto& r : defs_.rules()) {
            for (std::size_t j = 0; j < r.actions.size(); ++j) {
                if (r.actions[j].what == action::kind::remove_tag) {
                    check(r.actions[j].tag, r.path + ".then[" + std::to_string(j) + "].remove_tag");
                }
            }
        }
        for (const auto& f : flows_) {
            for (const auto& b : f.blocks) {
                for (std::size_t k = 0; k < b.remove_tags.size(); ++k) {
                    check(b.remove_tags[k], b.path + ".remove[" + std::to_string(k) + "]");
                }
            }
        }
    }

    void forms_and_waits() {
        for (const auto& f : flows_) {
            for (const auto& b : f.blocks) {
                if (b.kind == block_kind::form && b.next.empty()) {
                    add(b.path, "form_without_callback",
                        "form block " + in_quotes(b.id) + " (form " + in_quotes(b.form) +
                            ") has no \"next\": a complete submission ends the flow and nothing runs after "
                            "it");
                }
                const bool waits_for_contact =
                    b.kind == block_kind::ask ||
                    (b.kind == block_kind::wait && (b.until_reply || !b.until.source().empty()));
                if (waits_for_contact && !b.timeout) {
                    const std::string what =
                        b.kind == block_kind::ask ? "ask block " + in_quotes(b.id) + " waits for an answer"
                        : b.until_reply           ? "wait block " + in_quotes(b.id) + " waits for a reply"
                                        : "wait block " + in_quotes(b.id) + " waits for a condition";
                    add(b.path, "wait_without_timeout",
                        what + " with no \"timeout\": a contact who never answers stays on it until another "
                               "flow "
                               "starts");
                }
            }
        }
    }

    void flows_never_started() {
        std::vector<bool> started(flows_.size(), false);
        std::vector<bool> referenced(flows_.size(), false);
        std::vector<std::size_t> todo;
        auto start = [&](std::size_t fi) {
            if (!started[fi]) {
                started[fi] = true;
                todo.push_back(fi);
            }
        };
        for (std::size_t fi = 0; fi < flows_.size(); ++fi) {
            if (!flows_[fi].triggers.empty()) {
                start(fi);
            }
            for (const auto& b : flows_[fi].blocks) {
                if ((b.kind == block_kind::go_to || b.kind == block_kind::call) && flow_index(b.flow) != fi) {
                    referenced[flow_index(b.flow)] = true;
                }
            }
        }
        for (const auto& r : defs_.rules()) {
            for (const auto& a : r.actions) {
                if (a.what == action::kind::start_flow) {
                    start(flow_index(a.flow));
                }
            }
        }
        // A started flow starts the flows its reachable go_to and call blocks lead to.
        while (!todo.empty()) {
            const auto fi = todo.back();
            todo.pop_back();
            const auto& f = flows_[fi];
            for (std::size_t bi = 0; bi < f.blocks.size(); ++bi) {
                const auto& b = f.blocks[bi];
                if (reachable_[fi][bi] && (b.kind == block_kind::go_to || b.kind == block_kind::call)) {
                    start(flow_index(b.flow));
                }
            }
        }
        for (std::size_t fi = 0; fi < flows_.size(); ++fi) {
            if (started[fi]) {
                continue;
            }
            const auto& f = flows_[fi];
            add(f.path, "flow_never_started",
                referenced[fi]
                    ? "flow " + in_quotes(f.name) +
                          " is never started: the go_to and call blocks that lead to it are unreachable or "
                          "in flows that are never started"
                    : "flow " + in_quotes(f.name) +
                          " is never started: it has no triggers, no rule starts it with start_flow and no "
                          "go_to or call block leads to it");
        }
    }

    const definitions& defs_;
    const std::vector<flow>& flows_;
    std::vector<std::size_t> offsets_; // first node number of each flow
    std::size_t nodes_ = 0;            // blocks in all flows
    std::vector<std::vector<bool>> reachable_;
    std::vector<lint_finding> out_;
};

} // namespace

std::string_view to_string(lint_finding::severity level) noexcept {
    return level == lint_finding::severity::error ? "error" : "warning";
}

std::vector<lint_finding> lint(const definitions& defs) {
    return linter(defs).run();
}

std::vector<lint_finding> lint_file(const std::filesystem::path& file) {
    try {
        return lint(definitions::load_file(file));
    } catch (const definition_error& e) {
        // what() is "<path>: <message>"; the path has its own column in a finding.
        std::string message = e.what();
        const auto prefix = e.path() + ": ";
        if (message.compare(0, prefix.size(), prefix) == 0) {
            message.erase(0, prefix.size());
        }
        return {
            lint_finding{lint_finding::severity::error, e.path(), "invalid_definitions", std::move(message)}};
    }
}

} // namespace tagflow
