#!/usr/bin/env bash
# `tagflow serve` end to end over loopback: a signed generic webhook goes in, is durable when the
# answer comes, the rule's reply reaches the (console) adapter through the dispatcher, a bad
# signature gets 403 and stores nothing, and SIGTERM stops the server cleanly.
#   serve_check.sh TAGFLOW_BINARY WORK_DIR
set -euo pipefail
tagflow="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
cd "$work"

cat > defs.json <<'JSON'
{"schema": 1, "rules": [{"name": "welcome", "when": "first_message", "then": [{"send": "Chào bạn, Shop rất vui được hỗ trợ bạn!"}]}]}
JSON
cat > channels.json <<'JSON'
{"zalo": {"type": "console"},
 "webhooks": {"generic": {"secret": "s3cret"}}}
JSON

"$tagflow" serve --db shop.db --defs defs.json --channels channels.json --port 0 --port-file port >serve.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [ -s port ] && break
  sleep 0.1
done
[ -s port ] || { echo "serve did not start"; cat serve.log; exit 1; }
port=$(cat port)

post() { # body secret -> HTTP status
  local body="$1" secret="$2" ts sig
  ts=$(date +%s)
  sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)
  curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/webhooks/generic" \
    -H 'Content-Type: application/json' -H "X-Tagflow-Timestamp: $ts" -H "X-Tagflow-Signature: sha256=$sig" \
    --data-binary "$body"
}

body='{"kind":"message_received","identity":"zalo:1001","text":"Xin chào","key":"zalo:m1"}'
status=$(post "$body" s3cret)
[ "$status" = 200 ] || { echo "expected 200, got $status"; cat serve.log; exit 1; }
status=$(post '{"kind":"message_received","identity":"zalo:666","text":"x","key":"zalo:m2"}' wrong)
[ "$status" = 403 ] || { echo "expected 403 for a bad signature, got $status"; exit 1; }
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")
[ "$status" = 200 ] || { echo "healthz: $status"; exit 1; }

# The dispatcher runs on the runtime's thread: wait for the console adapter's line.
for _ in $(seq 1 100); do
  grep -q "Chào bạn, Shop rất vui được hỗ trợ bạn!" serve.log && break
  sleep 0.1
done
grep -q "zalo:1001.*Chào bạn, Shop rất vui được hỗ trợ bạn!" serve.log || { echo "no delivery"; cat serve.log; exit 1; }

kill -TERM $pid
wait $pid
trap - EXIT
grep -q "stopping" serve.log

# After the stop: one contact (the bad signature stored nothing), the reply recorded as sent.
"$tagflow" outbox --db shop.db | grep -q '"status":"sent"' || { "$tagflow" outbox --db shop.db; exit 1; }
contacts=$("$tagflow" export --db shop.db | grep -o '"identities":\[[^]]*\]' | wc -l)
[ "$contacts" = 1 ] || { echo "expected 1 contact, got $contacts"; exit 1; }
echo "serve check passed"
