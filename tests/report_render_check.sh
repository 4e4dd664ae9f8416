#!/usr/bin/env bash
# Renders the HTML analytics report in headless Chromium and checks that it loads: the headings
# and charts are in the DOM the browser built, nothing was fetched from anywhere (the network is
# cut off and any attempt is logged), no console error, and a screenshot was drawn.
#
#   report_render_check.sh REPORT_FIXTURE SCENARIO.json WORK_DIR
#
# Chromium is Debian's `chromium` package, which scripts/install-deps.sh installs. A missing
# browser is a failure, not a skip: the report's promise is that a browser renders it.
set -uo pipefail

fixture=${1:?report_fixture binary}
scenario=${2:?scenario file}
work=${3:?work directory}

fail() {
    echo "report_render_check: FAIL: $*" >&2
    exit 1
}

browser=""
for candidate in chromium chromium-browser google-chrome; do
    if command -v "$candidate" >/dev/null 2>&1; then
        browser=$(command -v "$candidate")
        break
    fi
done
[ -n "$browser" ] || fail "no chromium on PATH; install Debian's chromium package (bash scripts/install-deps.sh)"

rm -rf "$work"
mkdir -p "$work/profile"
report="$work/report.html"
"$fixture" --out "$report" --db "$work/run.db" "$scenario" >"$work/tables.txt" 2>"$work/fixture.err" ||
    fail "report_fixture failed: $(cat "$work/fixture.err")"
[ -s "$report" ] || fail "report_fixture wrote no report"

# The network is mapped to nowhere, so nothing outside the file could load even if the page asked;
# --enable-logging puts console messages ("INFO:CONSOLE") on stderr, where errors are looked for.
flags=(--headless --disable-gpu --no-sandbox --no-first-run --no-default-browser-check
    --disable-extensions --disable-background-networking --disable-component-update
    --host-resolver-rules="MAP * ~NOTFOUND" --user-data-dir="$work/profile"
    --enable-logging=stderr --v=0 --lang=vi)
url="file://$report"

timeout 45 "$browser" "${flags[@]}" --dump-dom "$url" >"$work/dom.html" 2>"$work/dom.err"
status=$?
[ $status -eq 0 ] || fail "chromium --dump-dom exited with $status (see $work/dom.err):
$(tail -n 20 "$work/dom.err")"
[ -s "$work/dom.html" ] || fail "chromium produced an empty DOM (see $work/dom.err)"

for heading in "Summary" "Flow funnels" "Sequence step outcomes" "Broadcast outcomes" \
    "New and returning contacts per day" "Messages by cause"; do
    grep -q "<h2[^>]*>$heading</h2>" "$work/dom.html" || fail "the rendered DOM has no \"$heading\" heading"
done
grep -q '<meta charset="utf-8">' "$work/dom.html" || fail "no <meta charset=\"utf-8\"> in the rendered DOM"
grep -q 'aria-label="Funnel of flow checkout"' "$work/dom.html" || fail "no funnel chart for the checkout flow"
source_svgs=$(grep -o '<svg' "$report" | wc -l)
dom_svgs=$(grep -o '<svg' "$work/dom.html" | wc -l)
[ "$source_svgs" -ge 2 ] || fail "the report has $source_svgs charts, expected at least 2"
[ "$source_svgs" -eq "$dom_svgs" ] || fail "the browser built $dom_svgs svg elements from $source_svgs in the file"
grep -q '<rect' "$work/dom.html" || fail "no bars (<rect>) in the rendered charts"
# Vietnamese text survives as UTF-8 through the browser.
grep -q 'Báo cáo tagflow' "$work/dom.html" || fail "the Vietnamese title did not come through as UTF-8"

if grep -E "CONSOLE|Uncaught|Failed to load resource|ERR_NAME_NOT_RESOLVED|Refused to" "$work/dom.err" |
    grep -v "Fontconfig" >"$work/console.txt"; then
    fail "the page logged errors or tried to load something:
$(cat "$work/console.txt")"
fi
# Headless Chromium does not log failed fetches, so references to anything outside the page are
# refused here from the file itself: scripts, links, images, frames, CSS imports and url()s.
if grep -Eiq '<script|<link|<img|<iframe|<object|@import|url\(|https?://|[[:space:]]src=' "$report"; then
    fail "the report refers to something outside itself: $(grep -Eio '<script[^>]*>|<link[^>]*>|<img[^>]*>|@import|url\([^)]*\)|https?://[^" ]*|src=[^ >]*' "$report" | head -3)"
fi

timeout 45 "$browser" "${flags[@]}" --hide-scrollbars --window-size=1100,900 \
    --screenshot="$work/report.png" "$url" >"$work/shot.out" 2>"$work/shot.err"
status=$?
[ $status -eq 0 ] || fail "chromium --screenshot exited with $status (see $work/shot.err)"
size=$(stat -c %s "$work/report.png" 2>/dev/null || echo 0)
[ "$size" -gt 5000 ] || fail "the screenshot is missing or blank ($size bytes)"

echo "report_render_check: ok ($dom_svgs charts, screenshot $size bytes, $work)"
