#include <tagflow/error.hpp>
#include <tagflow/graph.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace tagflow {

namespace {

// Labels stay readable in a drawing; the full text is in the definitions.
constexpr std::size_t max_label_code_points = 40;

// What a node looks like; each format maps it to its own shape syntax.
enum class shape {
    start,
    send,
    ask,
    form,
    condition,
    tag,
    set_field,
    wait,
    randomizer,
    go_to,
    call,
    request,
    handoff,
    end,
    other_flow,
};

shape shape_of(block_kind kind) {
    switch (kind) {
    case block_kind::send:
        return shape::send;
    case block_kind::ask:
        return shape::ask;
    case block_kind::form:
        return shape::form;
    case block_kind::condition:
        return shape::condition;
    case block_kind::tag:
        return shape::tag;
    case block_kind::set_field:
        return shape::set_field;
    case block_kind::wait:
        return shape::wait;
    case block_kind::randomizer:
        return shape::randomizer;
    case block_kind::go_to:
        return shape::go_to;
    case block_kind::call:
        return shape::call;
    case block_kind::request:
        return shape::request;
    case block_kind::handoff:
        return shape::handoff;
    case block_kind::end:
        return shape::end;
    }
    return shape::end;
}

// A node: a format-neutral id ("entry", "b3", "f1") and label lines as plain UTF-8. Block ids are
// free text, so they never become node ids: that keeps both formats' identifier rules out of it.
struct node {
    std::string id;
    shape look = shape::send;
    std::vector<std::string> lines;
};

struct edge {
    std::string from;
    std::string to;
    std::string label; // empty: no label
};

struct graph {
    std::string name;
    std::vector<node> nodes;
    std::vector<edge> edges;
};

// Control characters (a newline in a message text) would break a one-line label in Mermaid and
// split DOT labels unpredictably; a space keeps the words apart.
std::string flatten(std::string_view text) {
    std::string out(text);
    for (auto& c : out) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            c = ' ';
        }
    }
    return out;
}

bool continuation(unsigned char c) {
    return (c & 0xC0) == 0x80;
}

// A combining diacritic (U+0300..U+036F, UTF-8 CC 80..CD AF) at `pos`: decomposed Vietnamese
// writes "ế" as "e" plus marks, and a cut must not strip them from their letter.
bool combining_mark_at(std::string_view s, std::size_t pos) {
    if (pos + 1 >= s.size()) {
        return false;
    }
    const auto b0 = static_cast<unsigned char>(s[pos]);
    const auto b1 = static_cast<unsigned char>(s[pos + 1]);
    return b0 == 0xCC || (b0 == 0xCD && b1 <= 0xAF);
}

// Cuts text to max_label_code_points code points, ending with "…" when cut. Cuts only at the
// start of a code point (definitions are valid UTF-8: Boost.JSON checks it when parsing).
std::string shorten(std::string_view raw) {
    const auto text = flatten(raw);
    std::size_t points = 0;
    std::size_t cut = std::string::npos;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (continuation(static_cast<unsigned char>(text[i]))) {
            continue;
        }
        ++points;
        if (points == max_label_code_points) {
            cut = i; // room for the ellipsis, when it is needed
        }
        if (points > max_label_code_points) {
            while (cut < text.size() && combining_mark_at(text, cut)) {
                cut += 2;
            }
            return text.substr(0, cut) + "\xE2\x80\xA6";
        }
    }
    return text;
}

std::string duration_text(duration d) {
    const auto ms = d.count();
    if (ms % 86'400'000 == 0) {
        return std::to_string(ms / 86'400'000) + "d";
    }
    if (ms % 3'600'000 == 0) {
        return std::to_string(ms / 3'600'000) + "h";
    }
    if (ms % 60'000 == 0) {
        return std::to_string(ms / 60'000) + "m";
    }
    if (ms % 1'000 == 0) {
        return std::to_string(ms / 1'000) + "s";
    }
    return std::to_string(ms) + "ms";
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        out += out.empty() ? "" : ", ";
        out += item;
    }
    return out;
}

// The label of a block: its id, its kind, then a few summary lines depending on the kind.
std::vector<std::string> label_of(const block& b) {
    std::vector<std::string> lines{shorten(b.id), std::string(to_string(b.kind))};
    auto line = [&](std::string_view text) {
        if (!text.empty()) {
            lines.push_back(shorten(text));
        }
    };
    switch (b.kind) {
    case block_kind::send:
        line(b.text);
        break;
    case block_kind::ask:
        lines[1] += " \xE2\x86\x92 " + flatten(b.field); // "ask → field": where the answer goes
        line(b.text);
        break;
    case block_kind::form: {
        line(b.form);
        std::vector<std::string> names;
        for (const auto& ff : b.fields) {
            names.push_back(ff.name);
        }
        line(joined(names));
        break;
    }
    case block_kind::tag:
        // Removals first: the runtime applies them first.
        for (const auto& t : b.remove_tags) {
            line("- " + t);
        }
        for (const auto& t : b.add_tags) {
            line("+ " + t);
        }
        break;
    case block_kind::set_field:
        if (b.op == "clear") {
            line("clear " + b.field);
        } else if (b.op == "increment") {
            line(b.field + " + " + b.value);
        } else if (b.op == "append") {
            line(b.field + " append " + b.value);
        } else {
            line(b.field + " = " + b.value);
        }
        break;
    case block_kind::wait:
        if (b.delay) {
            line("delay " + duration_text(*b.delay));
        } else if (b.until_reply) {
            line("until reply");
        } else {
            line("until " + b.until.source());
        }
        break;
    case block_kind::go_to:
    case block_kind::call:
        line(b.flow);
        break;
    case block_kind::request:
        line(b.method + " " + b.url);
        break;
    case block_kind::handoff:
        line(b.delay ? "for " + duration_text(*b.delay) : "until resumed");
        break;
    case block_kind::condition:
    case block_kind::randomizer:
    case block_kind::end:
        break; // their exits carry the detail
    }
    if (b.timeout) {
        line("timeout " + duration_text(*b.timeout));
    }
    return lines;
}

graph build(const definitions& defs, std::string_view flow_name) {
    const flow* f = defs.find_flow(flow_name);
    if (!f) {
        throw error(errc::not_found, "no flow \"" + std::string(flow_name) + "\" in the definitions");
    }
    graph g;
    g.name = f->name;
    auto block_node = [&](const std::string& id) {
        return "b" + std::to_string(static_cast<std::size_t>(f->find(id) - f->blocks.data()));
    };
    g.nodes.push_back(node{"entry", shape::start, {"start"}});
    for (std::size_t i = 0; i < f->blocks.size(); ++i) {
        g.nodes.push_back(node{"b" + std::to_string(i), shape_of(f->blocks[i].kind), label_of(f->blocks[i])});
    }
    g.edges.push_back(edge{"entry", block_node(f->start), ""});
    // Other flows get one node each, after the blocks, in the order they are first named.
    std::vector<node> flow_nodes;
    for (std::size_t i = 0; i < f->blocks.size(); ++i) {
        const auto& b = f->blocks[i];
        const auto from = "b" + std::to_string(i);
        auto follow = [&](const std::string& target, std::string label) {
            if (!target.empty()) {
                g.edges.push_back(edge{from, block_node(target), std::move(label)});
            }
        };
        if (b.kind == block_kind::go_to || b.kind == block_kind::call) {
            const flow* other = defs.find_flow(b.flow);
            std::string to;
            if (other == f) {
                to = block_node(f->start);
            } else {
                to = "f" + std::to_string(static_cast<std::size_t>(other - defs.flows().data()));
                bool known = false;
                for (const auto& n : flow_nodes) {
                    known = known || n.id == to;
                }
                if (!known) {
                    flow_nodes.push_back(node{to, shape::other_flow, {shorten(other->name), "flow"}});
                }
            }
            g.edges.push_back(edge{from, to, std::string(to_string(b.kind))});
        }
        for (const auto& br : b.branches) {
            follow(br.next, shorten(br.condition.source()));
        }
        follow(b.otherwise, "else");
        for (const auto& p : b.paths) {
            follow(p.next, "weight " + std::to_string(p.weight));
        }
        follow(b.next, "next");
        follow(b.on_invalid, "invalid");
        follow(b.on_timeout, "timeout");
        follow(b.on_failure, "failure");
    }
    g.nodes.insert(g.nodes.end(), flow_nodes.begin(), flow_nodes.end());
    return g;
}

// DOT quoted strings: \" and \\ are the escapes; "\n" (backslash, n) breaks a label line.
std::string dot_escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out;
}

std::string dot_label(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) {
        out += out.empty() ? "" : "\\n";
        out += dot_escape(l);
    }
    return out;
}

std::string_view dot_shape(shape s) {
    switch (s) {
    case shape::start:
        return "shape=circle";
    case shape::send:
        return "shape=box";
    case shape::ask:
        return "shape=parallelogram";
    case shape::form:
        return "shape=note";
    case shape::condition:
        return "shape=diamond";
    case shape::tag:
        return "shape=hexagon";
    case shape::set_field:
        return "shape=cylinder";
    case shape::wait:
        return "shape=octagon";
    case shape::randomizer:
        return "shape=trapezium";
    case shape::go_to:
        return "shape=rarrow";
    case shape::call:
        return "shape=component";
    case shape::request:
        return "shape=box3d";
    case shape::handoff:
        return "shape=house";
    case shape::end:
        return "shape=doublecircle";
    case shape::other_flow:
        return "shape=folder, style=dashed";
    }
    return "shape=box";
}

// Mermaid has no backslash escapes: characters that mean something to its parser or to the
// HTML it renders become entity codes (#quot; or #<decimal>;), including "#" itself so text such
// as "#1;" is not read as one.
std::string mermaid_escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
        case '"':
            out += "#quot;";
            break;
        case '#':
            out += "#35;";
            break;
        case '&':
            out += "#38;";
            break;
        case '<':
            out += "#60;";
            break;
        case '>':
            out += "#62;";
            break;
        case '`':
            out += "#96;";
            break;
        case '|':
            out += "#124;";
            break;
        default:
            out += c;
            break;
        }
    }
    return out;
}

std::string mermaid_label(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) {
        out += out.empty() ? "" : "<br>";
        out += mermaid_escape(l);
    }
    return out;
}

// Opening and closing brackets of each shape around a quoted label.
std::pair<std::string_view, std::string_view> mermaid_brackets(shape s) {
    switch (s) {
    case shape::start:
        return {"((", "))"};
    case shape::send:
        return {"[", "]"};
    case shape::ask:
        return {"[/", "/]"};
    case shape::form:
        return {"[\\", "\\]"};
    case shape::condition:
        return {"{", "}"};
    case shape::tag:
        return {"{{", "}}"};
    case shape::set_field:
        return {"[(", ")]"};
    case shape::wait:
        return {"([", "])"};
    case shape::randomizer:
        return {"[/", "\\]"};
    case shape::go_to:
        return {">", "]"};
    case shape::call:
        return {"[[", "]]"};
    // Mermaid's classic syntax has fewer shapes than block kinds: these two share one with a
    // kind that behaves alike (both talk to the outside; both pause), and the kind line tells.
    case shape::request:
        return {"[", "]"};
    case shape::handoff:
        return {"([", "])"};
    case shape::end:
        return {"(((", ")))"};
    case shape::other_flow:
        return {"(", ")"};
    }
    return {"[", "]"};
}

} // namespace

std::string flow_to_dot(const definitions& defs, std::string_view flow_name) {
    const auto g = build(defs, flow_name);
    std::string out = "digraph \"" + dot_escape(flatten(g.name)) + "\" {\n";
    out += "    labelloc=\"t\";\n";
    out += "    label=\"flow " + dot_escape(shorten(g.name)) + "\";\n";
    for (const auto& n : g.nodes) {
        out += "    " + n.id + " [label=\"" + dot_label(n.lines) + "\", " + std::string(dot_shape(n.look)) +
               "];\n";
    }
    for (const auto& e : g.edges) {
        out += "    " + e.from + " -> " + e.to;
        if (!e.label.empty()) {
            out += " [label=\"" + dot_escape(e.label) + "\"]";
        }
        out += ";\n";
    }
    out += "}\n";
    return out;
}

std::string flow_to_mermaid(const definitions& defs, std::string_view flow_name) {
    const auto g = build(defs, flow_name);
    std::string out = "flowchart TD\n";
    std::string flow_ids;
    for (const auto& n : g.nodes) {
        const auto [open, close] = mermaid_brackets(n.look);
        out += "    " + n.id + std::string(open) + "\"" + mermaid_label(n.lines) + "\"" + std::string(close) +
               "\n";
        if (n.look == shape::other_flow) {
            flow_ids += flow_ids.empty() ? "" : ",";
            flow_ids += n.id;
        }
    }
    for (const auto& e : g.edges) {
        out += "    " + e.from + " -->";
        if (!e.label.empty()) {
            out += "|\"" + mermaid_escape(e.label) + "\"|";
        }
        out += " " + e.to + "\n";
    }
    if (!flow_ids.empty()) {
        // Other flows are drawn dashed, as in DOT: they are not part of this flow.
        out += "    classDef other_flow stroke-dasharray: 5 5\n";
        out += "    class " + flow_ids + " other_flow\n";
    }
    return out;
}

} // namespace tagflow
