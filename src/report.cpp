// The HTML report: one page, no scripts, every chart drawn as inline SVG from the tables of
// analytics.cpp, so it opens from a file, in a mail attachment or offline, and looks the same
// everywhere.

#include <tagflow/analytics.hpp>
#include <tagflow/local_time.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tagflow {

namespace {

// Text in element content and in attribute values (always double-quoted here).
std::string escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            // Control characters other than tab/newline are not allowed in HTML text.
            if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
                out += ' ';
            } else {
                out += c;
            }
        }
    }
    return out;
}

// At most `n` code points, with an ellipsis when cut, never splitting a UTF-8 sequence.
std::string shorten(std::string_view s, std::size_t n) {
    std::size_t points = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0u) != 0x80u) {
            if (points == n) {
                return std::string(s.substr(0, i)) + "\xE2\x80\xA6";
            }
            ++points;
        }
    }
    return std::string(s);
}

std::string num(std::int64_t n) {
    return std::to_string(n);
}

std::string px(double v) {
    return fmt::format("{:.1f}", v);
}

std::string pct(std::int64_t part, std::int64_t whole) {
    if (whole <= 0) {
        return "–";
    }
    return fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

std::string money_text(const std::map<std::string, double>& amounts) {
    std::string out;
    for (const auto& [currency, amount] : amounts) {
        out += out.empty() ? "" : "; ";
        // Thousands separated by a space (Vietnamese style uses dots, which read as decimals
        // elsewhere; a thin space is unambiguous in both).
        auto whole = static_cast<std::int64_t>(amount);
        std::string digits = std::to_string(whole < 0 ? -whole : whole);
        std::string grouped;
        for (std::size_t i = 0; i < digits.size(); ++i) {
            if (i && (digits.size() - i) % 3 == 0) {
                grouped += "\xE2\x80\xAF"; // narrow no-break space
            }
            grouped += digits[i];
        }
        if (whole < 0) {
            grouped = "-" + grouped;
        }
        const double frac = amount - static_cast<double>(whole);
        if (frac > 0.0005 || frac < -0.0005) {
            grouped += fmt::format("{:.2f}", frac < 0 ? -frac : frac).substr(1);
        }
        out += grouped;
        if (!currency.empty()) {
            out += " " + currency;
        }
    }
    return out.empty() ? "0" : out;
}

std::string date_text(const local_date& d) {
    return fmt::format("{:04}-{:02}-{:02}", d.year, d.month, d.day);
}

// "2026-01-05 09:00" in `zone`; ISO UTC when the zone is unknown (a report built by hand).
std::string local_text(time_point t, const std::string& zone) {
    try {
        const auto day = local_date_of(t, zone);
        const auto midnight = local_to_utc(day.year, day.month, day.day, local_clock_time{0, 0}, zone);
        const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(t - midnight).count();
        return date_text(day) + fmt::format(" {:02}:{:02}", minutes / 60, minutes % 60);
    } catch (const std::exception&) {
        return format_time(t);
    }
}

struct segment {
    const char* name;
    const char* css; // class of the fill colour
};

// The outcome segments of stacked bars, best first.
constexpr std::array<segment, 6> outcome_segments = {{
    {"read", "c-read"},
    {"delivered", "c-delivered"},
    {"sent", "c-sent"},
    {"waiting", "c-waiting"},
    {"blocked", "c-blocked"},
    {"failed or cancelled", "c-failed"},
}};

std::array<std::int64_t, 6> outcome_values(const outcome_counts& c) {
    return {c.read,    c.delivered - c.read,  c.sent - c.delivered, c.pending + c.deferred,
            c.blocked, c.failed + c.cancelled};
}

std::string legend(const std::vector<segment>& segments) {
    std::string out = "<p class=\"legend\">";
    for (const auto& s : segments) {
        out += fmt::format("<span><i class=\"sw {}\"></i>{}</span>", s.css, escape(s.name));
    }
    return out + "</p>\n";
}

struct bar_row {
    std::string label;
    std::string sublabel;
    std::vector<std::int64_t> values;
};

// Horizontal stacked bars, one row per item, scaled to the largest total.
std::string stacked_bars(const std::string& title, const std::vector<bar_row>& rows,
                         const std::vector<segment>& segments) {
    constexpr double width = 760, label_w = 240, bar_x = 250, bar_w = 420, row_h = 30, top = 8;
    std::int64_t max_total = 0;
    for (const auto& r : rows) {
        std::int64_t t = 0;
        for (auto v : r.values) {
            t += std::max<std::int64_t>(v, 0);
        }
        max_total = std::max(max_total, t);
    }
    const double height = top * 2 + row_h * static_cast<double>(rows.size());
    std::string out = fmt::format("<svg class=\"chart\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" "
                                  "role=\"img\" aria-label=\"{}\">\n<title>{}</title>\n",
                                  px(width), px(height), px(width), px(height), escape(title), escape(title));
    double y = top;
    for (const auto& r : rows) {
        out += fmt::format("<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
                           px(label_w), px(y + 13), escape(shorten(r.label, 30)));
        if (!r.sublabel.empty()) {
            out += fmt::format("<text class=\"sub\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
                               px(label_w), px(y + 25), escape(shorten(r.sublabel, 36)));
        }
        double x = bar_x;
        std::int64_t total = 0;
        for (std::size_t i = 0; i < r.values.size() && i < segments.size(); ++i) {
            const auto v = std::max<std::int64_t>(r.values[i], 0);
            total += v;
            if (v == 0 || max_total == 0) {
                continue;
            }
            const double w = bar_w * static_cast<double>(v) / static_cast<double>(max_total);
            out += fmt::format(
                "<rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"18\"><title>{}: {}</title>"
                "</rect>\n",
                segments[i].css, px(x), px(y + 2), px(std::max(w, 0.5)), escape(segments[i].name), num(v));
            x += w;
        }
        if (total == 0) {
            out +=
                fmt::format("<rect class=\"empty-bar\" x=\"{}\" y=\"{}\" width=\"2\" height=\"18\"></rect>\n",
                            px(bar_x), px(y + 2));
        }
        out += fmt::format("<text class=\"value\" x=\"{}\" y=\"{}\">{}</text>\n", px(x + 6), px(y + 15),
                           num(total));
        y += row_h;
    }
    return out + "</svg>\n";
}

std::string table_html(const analytics_table& t, const std::vector<std::size_t>& columns,
                       std::size_t first_row = 0) {
    std::string out = "<div class=\"scroll\"><table>\n<thead><tr>";
    for (auto c : columns) {
        out += fmt::format("<th{}>{}</th>", t.numeric[c] ? " class=\"n\"" : "", escape(t.headers[c]));
    }
    out += "</tr></thead>\n<tbody>\n";
    for (std::size_t r = first_row; r < t.rows.size(); ++r) {
        out += "<tr>";
        for (auto c : columns) {
            out += fmt::format("<td{}>{}</td>", t.numeric[c] ? " class=\"n\"" : "", escape(t.rows[r][c]));
        }
        out += "</tr>\n";
    }
    return out + "</tbody></table></div>\n";
}

std::vector<std::size_t> columns_named(const analytics_table& t, const std::vector<std::string_view>& names) {
    std::vector<std::size_t> out;
    for (auto n : names) {
        for (std::size_t i = 0; i < t.headers.size(); ++i) {
            if (t.headers[i] == n) {
                out.push_back(i);
            }
        }
    }
    return out;
}

std::string empty_state(std::string_view text) {
    return "<p class=\"empty\">" + escape(text) + "</p>\n";
}

std::string card(std::string_view label, const std::string& value, const std::string& note = {}) {
    // Long values (money with a currency) get a smaller size rather than wrapping inside a card.
    return fmt::format("<div class=\"card\"><div class=\"k\">{}</div><div class=\"v{}\">{}</div>{}</div>\n",
                       escape(label), value.size() > 9 ? " long" : "", escape(value),
                       note.empty() ? std::string() : "<div class=\"note\">" + escape(note) + "</div>");
}

std::string funnel_svg(const flow_funnel& f) {
    constexpr double width = 760, label_w = 240, bar_x = 250, bar_w = 400, row_h = 30, top = 8;
    std::int64_t max_entered = 0;
    for (const auto& b : f.blocks) {
        max_entered = std::max(max_entered, b.entered);
    }
    const std::int64_t first = f.blocks.empty() ? 0 : f.blocks.front().entered;
    const double height = top * 2 + row_h * static_cast<double>(f.blocks.size());
    const std::string title = "Funnel of flow " + f.flow;
    std::string out = fmt::format("<svg class=\"chart\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" "
                                  "role=\"img\" aria-label=\"{}\">\n<title>{}</title>\n",
                                  px(width), px(height), px(width), px(height), escape(title), escape(title));
    double y = top;
    for (const auto& b : f.blocks) {
        out += fmt::format("<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}. {}</text>\n",
                           px(label_w), px(y + 13), b.position, escape(shorten(b.block, 28)));
        out +=
            fmt::format("<text class=\"sub\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", px(label_w),
                        px(y + 25), escape(b.kind.empty() ? std::string("(no longer defined)") : b.kind));
        const double scale = max_entered > 0 ? bar_w / static_cast<double>(max_entered) : 0;
        const double done_w = scale * static_cast<double>(b.completed);
        const double wait_w = scale * static_cast<double>(b.waiting);
        // Centred bars make the narrowing read as a funnel.
        const double x0 = bar_x + (bar_w - done_w - wait_w) / 2;
        if (b.completed > 0) {
            out += fmt::format(
                "<rect class=\"c-done\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"18\"><title>completed: "
                "{}</title></rect>\n",
                px(x0), px(y + 2), px(std::max(done_w, 0.5)), num(b.completed));
        }
        if (b.waiting > 0) {
            out += fmt::format(
                "<rect class=\"c-wait\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"18\"><title>waiting: "
                "{}</title></rect>\n",
                px(x0 + done_w), px(y + 2), px(std::max(wait_w, 0.5)), num(b.waiting));
        }
        if (b.entered == 0) {
            out +=
                fmt::format("<rect class=\"empty-bar\" x=\"{}\" y=\"{}\" width=\"2\" height=\"18\"></rect>\n",
                            px(bar_x + bar_w / 2 - 1), px(y + 2));
        }
        out += fmt::format("<text class=\"value\" x=\"{}\" y=\"{}\">{} ({})</text>\n", px(bar_x + bar_w + 8),
                           px(y + 15), num(b.entered), escape(pct(b.entered, first)));
        y += row_h;
    }
    return out + "</svg>\n";
}

// The days from the first to the last, with empty days filled in so the axis is continuous
// (a quiet Sunday shows as a gap, not as a missing day). Spans longer than ~3 years are drawn as
// they are.
std::vector<daily_contacts> continuous(const std::vector<daily_contacts>& days) {
    using namespace std::chrono;
    auto to_days = [](const local_date& d) {
        return sys_days(year_month_day(year(d.year), month(d.month), day(d.day)));
    };
    if (days.size() < 2) {
        return days;
    }
    const auto first = to_days(days.front().date);
    const auto last = to_days(days.back().date);
    if ((last - first).count() > 1100) {
        return days;
    }
    std::vector<daily_contacts> out;
    std::size_t next = 0;
    for (auto d = first; d <= last; d += std::chrono::days(1)) {
        if (next < days.size() && to_days(days[next].date) == d) {
            out.push_back(days[next++]);
            continue;
        }
        const year_month_day ymd(d);
        daily_contacts empty;
        empty.date = local_date{static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                                static_cast<unsigned>(ymd.day())};
        out.push_back(empty);
    }
    return out;
}

std::string daily_svg(const std::vector<daily_contacts>& days) {
    constexpr double width = 760, height = 240, left = 40, right = 10, top = 12, bottom = 40;
    const double plot_w = width - left - right, plot_h = height - top - bottom;
    std::int64_t highest = 1;
    for (const auto& d : days) {
        highest = std::max(highest, d.new_contacts + d.returning);
    }
    // Four whole-number grid steps: the scale's top is the next multiple of 4 steps.
    const std::int64_t step = (highest + 3) / 4;
    const std::int64_t max_total = step * 4;
    const double slot = plot_w / static_cast<double>(std::max<std::size_t>(days.size(), 1));
    const double bar = std::max(1.0, std::min(36.0, slot * 0.7));
    const std::string title = "New and returning contacts per day";
    std::string out = fmt::format("<svg class=\"chart\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" "
                                  "role=\"img\" aria-label=\"{}\">\n<title>{}</title>\n",
                                  px(width), px(height), px(width), px(height), escape(title), escape(title));
    // Four grid lines with their counts.
    for (int i = 0; i <= 4; ++i) {
        const auto v = step * i;
        const double y = top + plot_h - plot_h * i / 4.0;
        out += fmt::format("<line class=\"grid\" x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"></line>\n", px(left),
                           px(width - right), px(y), px(y));
        out += fmt::format("<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
                           px(left - 4), px(y + 4), num(v));
    }
    // Label at most ~12 days so dates never overlap.
    const std::size_t every = std::max<std::size_t>(1, (days.size() + 11) / 12);
    for (std::size_t i = 0; i < days.size(); ++i) {
        const auto& d = days[i];
        const double cx = left + slot * (static_cast<double>(i) + 0.5);
        const double h_new = plot_h * static_cast<double>(d.new_contacts) / static_cast<double>(max_total);
        const double h_ret = plot_h * static_cast<double>(d.returning) / static_cast<double>(max_total);
        const double base = top + plot_h;
        const std::string day = date_text(d.date);
        if (d.new_contacts > 0) {
            out += fmt::format(
                "<rect class=\"c-new\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}: {} new"
                "</title></rect>\n",
                px(cx - bar / 2), px(base - h_new), px(bar), px(h_new), day, num(d.new_contacts));
        }
        if (d.returning > 0) {
            out += fmt::format(
                "<rect class=\"c-returning\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}: {} "
                "returning</title></rect>\n",
                px(cx - bar / 2), px(base - h_new - h_ret), px(bar), px(h_ret), day, num(d.returning));
        }
        if (i % every == 0) {
            out += fmt::format("<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                               px(cx), px(base + 16), day.substr(5));
        }
    }
    return out + "</svg>\n";
}

constexpr std::string_view style = R"css(
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f5f6f8; color: #1f2430;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 24px 20px 40px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #d9dce3; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: #5b6275; margin: 0 0 16px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); gap: 10px; }
.card { background: #fff; border: 1px solid #e1e4ea; border-radius: 8px; padding: 10px 12px; }
.card .k { color: #5b6275; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.card .v { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .v.long { font-size: 16px; padding: 4px 0 3px; }
.card .note { color: #5b6275; font-size: 12px; }
section { background: #fff; border: 1px solid #e1e4ea; border-radius: 8px; padding: 4px 16px 14px; margin-top: 16px; }
section h2 { border: 0; margin-top: 12px; }
.chart { max-width: 100%; height: auto; display: block; }
.chart text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
  fill: #1f2430; }
.chart .sub, .chart .axis { fill: #6b7285; font-size: 11px; }
.chart .grid { stroke: #e6e8ee; stroke-width: 1; }
.c-read, .sw.c-read { fill: #1b7f5b; background: #1b7f5b; }
.c-delivered, .sw.c-delivered { fill: #46b38a; background: #46b38a; }
.c-sent, .sw.c-sent { fill: #a7dcc6; background: #a7dcc6; }
.c-waiting, .sw.c-waiting { fill: #f2c14e; background: #f2c14e; }
.c-blocked, .sw.c-blocked { fill: #d9534f; background: #d9534f; }
.c-failed, .sw.c-failed { fill: #7a7f8c; background: #7a7f8c; }
.c-done, .sw.c-done { fill: #3a6fd8; background: #3a6fd8; }
.c-wait, .sw.c-wait { fill: #f2c14e; background: #f2c14e; }
.c-new, .sw.c-new { fill: #3a6fd8; background: #3a6fd8; }
.c-returning, .sw.c-returning { fill: #e07b39; background: #e07b39; }
.empty-bar { fill: #c9cdd6; }
.legend { margin: 4px 0 8px; color: #3b4152; font-size: 12px; }
.legend span { margin-right: 14px; white-space: nowrap; }
.sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { padding: 4px 8px; border-bottom: 1px solid #eceef2; text-align: left; white-space: nowrap; }
th { background: #f7f8fa; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.empty { color: #6b7285; font-style: italic; }
footer { color: #6b7285; font-size: 12px; margin-top: 28px; }
)css";

} // namespace

std::string render_html_report(const analytics_report& report, const report_options& options) {
    std::string out;
    out.reserve(64 * 1024);
    out += "<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
           "<meta name=\"generator\" content=\"tagflow\">\n";
    out += "<title>" + escape(options.title) + "</title>\n<style>";
    out += style;
    out += "</style>\n</head>\n<body>\n<main>\n";
    out += "<h1>" + escape(options.title) + "</h1>\n";
    std::string meta;
    if (!options.subtitle.empty()) {
        meta += options.subtitle + " · ";
    }
    const auto& s = report.summary;
    if (s.first_event && s.last_event) {
        meta += "events from " + local_text(*s.first_event, report.time_zone) + " to " +
                local_text(*s.last_event, report.time_zone) + " (" + report.time_zone + ")";
    } else {
        meta += "no events yet";
    }
    out += "<p class=\"meta\">" + escape(meta) + "</p>\n";

    // Summary cards.
    const auto& m = s.messages;
    out += "<h2 id=\"summary\">Summary</h2>\n<div class=\"cards\">\n";
    out += card("Contacts", num(s.contacts), num(s.returning_contacts) + " returning now");
    out += card("Messages", num(m.messages), num(m.recipients) + " recipients");
    out += card("Sent", num(m.sent), pct(m.sent, m.messages) + " of messages");
    out += card("Delivered", num(m.delivered), pct(m.delivered, m.sent) + " of sent");
    out += card("Read", num(m.read), pct(m.read, m.sent) + " of sent");
    out += card("Clicked", num(m.clicked), pct(m.clicked, m.sent) + " of sent");
    out += card("Converted", num(m.converted), pct(m.converted, m.sent) + " of sent");
    out += card("Orders", num(s.orders), num(s.attributed_orders) + " attributed");
    out += card("Blocked", num(m.blocked), num(m.deferred) + " deferred");
    out += card("Cost", money_text(m.cost), "revenue " + money_text(m.revenue));
    out += "</div>\n";

    // Flow funnels.
    out += "<section>\n<h2 id=\"flows\">Flow funnels</h2>\n";
    bool any_flow = false;
    for (const auto& f : report.flows) {
        any_flow = true;
        out += "<h3>" + escape(f.flow) + (f.defined ? "" : " <small>(no longer defined)</small>") + "</h3>\n";
        if (f.blocks.empty()) {
            out += empty_state("This flow has no blocks.");
            continue;
        }
        out += legend({{"completed", "c-done"}, {"waiting now", "c-wait"}});
        out += funnel_svg(f);
    }
    if (!any_flow) {
        out += empty_state("No flows are defined and none has been entered yet.");
    }
    out += "</section>\n";

    const std::vector<segment> outcomes(outcome_segments.begin(), outcome_segments.end());
    // Sequence steps.
    out += "<section>\n<h2 id=\"sequences\">Sequence step outcomes</h2>\n";
    if (report.sequence_steps.empty()) {
        out += empty_state("No sequence has sent a message yet.");
    } else {
        std::vector<bar_row> rows;
        for (const auto& st : report.sequence_steps) {
            const auto v = outcome_values(st.counts);
            rows.push_back({st.sequence,
                            (st.step >= 0 ? "step " + num(st.step + 1) : std::string("step ?")) + " · " +
                                num(st.counts.converted) + " converted",
                            {v.begin(), v.end()}});
        }
        out += legend(outcomes);
        out += stacked_bars("Sequence step outcomes", rows, outcomes);
        const auto t = make_table(report, "sequence_steps");
        out += table_html(
            t, columns_named(t, {"sequence", "step", "messages", "sent", "delivered", "read", "clicked",
                                 "converted", "deferred", "blocked", "failed", "cost"}));
    }
    out += "</section>\n";

    // Broadcasts.
    out += "<section>\n<h2 id=\"broadcasts\">Broadcast outcomes</h2>\n";
    if (report.broadcasts.empty()) {
        out += empty_state("No broadcast has been sent yet.");
    } else {
        std::vector<bar_row> rows;
        for (const auto& b : report.broadcasts) {
            const auto v = outcome_values(b.counts);
            rows.push_back({b.name,
                            num(b.counts.recipients) + " recipients · " + money_text(b.counts.cost),
                            {v.begin(), v.end()}});
        }
        out += legend(outcomes);
        out += stacked_bars("Broadcast outcomes", rows, outcomes);
        const auto t = make_table(report, "broadcasts");
        out += table_html(t, columns_named(t, {"broadcast", "recipients", "sent", "delivered", "read",
                                               "clicked", "converted", "deferred", "blocked",
                                               "blocked_by_reason", "failed", "cancelled", "cost"}));
    }
    out += "</section>\n";

    // New vs returning.
    out += "<section>\n<h2 id=\"daily\">New and returning contacts per day</h2>\n";
    if (report.daily.empty()) {
        out += empty_state("No contact has written yet.");
    } else {
        out += legend({{"new", "c-new"}, {"returning", "c-returning"}});
        out += daily_svg(continuous(report.daily));
        out += table_html(make_table(report, "daily"), {0, 1, 2, 3});
    }
    out += "</section>\n";

    // Messages by cause.
    out += "<section>\n<h2 id=\"causes\">Messages by cause</h2>\n";
    if (report.causes.empty()) {
        out += empty_state("No message has been decided yet.");
    } else {
        const auto t = make_table(report, "causes");
        out += table_html(
            t, columns_named(t, {"cause", "messages", "sent", "delivered", "read", "clicked", "converted",
                                 "orders", "deferred", "blocked", "failed", "revenue"}));
    }
    out += "</section>\n";

    if (options.max_message_rows > 0) {
        out += "<section>\n<h2 id=\"messages\">Recent messages</h2>\n";
        if (report.messages.empty()) {
            out += empty_state("No message has been decided yet.");
        } else {
            const auto t = make_table(report, "messages");
            const std::size_t first =
                t.rows.size() > options.max_message_rows ? t.rows.size() - options.max_message_rows : 0;
            if (first > 0) {
                out += "<p class=\"meta\">The last " +
                       num(static_cast<std::int64_t>(options.max_message_rows)) + " of " +
                       num(static_cast<std::int64_t>(t.rows.size())) + " messages.</p>\n";
            }
            out += table_html(t,
                              columns_named(t, {"id", "contact", "channel", "cause", "status", "reason",
                                                "sent_at", "delivered", "read", "clicked", "converted"}),
                              first);
        }
        out += "</section>\n";
    }

    const auto window_hours = report.conversion_window.count() / 3'600'000;
    out += "<footer>Converted: an order placed within " + escape(num(window_hours)) +
           " hours after a message was sent, attributed to the last message sent to that contact before the "
           "order. New: a contact's first conversation; returning: a later conversation (or any after an "
           "order). Made by tagflow.</footer>\n";
    out += "</main>\n</body>\n</html>\n";
    return out;
}

} // namespace tagflow
