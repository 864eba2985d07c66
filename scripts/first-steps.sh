#!/usr/bin/env bash
# First steps with streamsvc, end to end: a venue sets up an event and sells a ticket;
# a buyer pays (simulated), redeems the ticket and is let in by the media server.
#
# Start the service first with `make run` and leave it running. Without
# STREAMSVC_STRIPE_API_KEY it runs against localstripe, a simulated Stripe: `make run`
# prints "localstripe at http://127.0.0.1:<port> stands in for Stripe". Then:
#
#   LOCALSTRIPE=http://127.0.0.1:<port> scripts/first-steps.sh
#
# localstripe keeps everything in memory: when it restarts (every `make run`), the
# PaymentIntents of earlier orders are gone, so pay orders in the run that made them.
#
# Needs bash, curl and python3 (to read the JSON answers); nothing else.
set -euo pipefail

API=${API:-http://127.0.0.1:8000}
# The development platform key is a fixed, public value; a real one is set in the env.
PLATFORM_KEY=${STREAMSVC_PLATFORM_KEY:-sk_platform_development_not_secret}
LOCALSTRIPE=${LOCALSTRIPE:?set LOCALSTRIPE to the localstripe URL that make run printed}
# localstripe takes any secret key of Stripe's shape; this is the one `make run` gives
# the service.
STRIPE_KEY=${STRIPE_KEY:-sk_test_streamsvc_simulated}

# call METHOD PATH [JSON BODY]: the API's JSON answer; stops the script on an error.
call() {
  local method=$1 path=$2 body=${3:-} out status
  local args=(-sS -X "$method" -w '\n%{http_code}' -H 'Accept: application/json')
  if [[ -n ${AUTH:-} ]]; then args+=(-H "Authorization: Bearer $AUTH"); fi
  if [[ -n ${ORDER_TOKEN_HEADER:-} ]]; then args+=(-H "$ORDER_TOKEN_HEADER"); fi
  if [[ -n $body ]]; then args+=(-H 'Content-Type: application/json' --data "$body"); fi
  out=$(curl "${args[@]}" "$API$path")
  status=${out##*$'\n'}
  out=${out%$'\n'*}
  if [[ $status != 2* ]]; then
    echo "$method $path answered $status: $out" >&2
    exit 1
  fi
  printf '%s\n' "$out"
}

# field PATH < JSON: one value of a JSON document, e.g. `field api_key.key`, `field data.0.id`.
field() {
  python3 -c '
import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1].split("."):
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value)' "$1"
}

# A time from now in RFC 3339 with an offset, e.g. `at 10` is ten minutes from now.
at() {
  python3 -c '
import sys
from datetime import UTC, datetime, timedelta
print((datetime.now(UTC) + timedelta(minutes=int(sys.argv[1]))).isoformat(timespec="seconds"))' "$1"
}

# 1. A venue and its first admin key (shown once; only its hash is stored). The same
#    as `.venv/bin/streamsvc venue create --name ... --country NL --currency EUR ...`.
AUTH=$PLATFORM_KEY
venue=$(call POST /v1/venues '{"name": "First Steps Opera", "country": "NL",
  "currency": "EUR", "timezone": "Europe/Amsterdam"}')
VENUE_ID=$(field venue.id <<<"$venue")
KEY=$(field api_key.key <<<"$venue")
echo "venue $VENUE_ID, admin key $KEY"
AUTH=$KEY

# 2. A performer and an event. Times are RFC 3339 with an offset. The event starts in
#    ten minutes so that the ticket can be redeemed at once (doors open 30 minutes
#    before the start); `playback` is the origin the media server serves it from.
performer=$(call POST /v1/performers '{"name": "Anna Netrebko", "email": "anna@example.org"}')
PERFORMER_ID=$(field id <<<"$performer")
event=$(call POST /v1/events "{
  \"title\": \"La Traviata\", \"description\": \"Verdi, live from Amsterdam.\",
  \"starts_at\": \"$(at 10)\", \"ends_at\": \"$(at 190)\", \"timezone\": \"Europe/Amsterdam\",
  \"attendance_mode\": \"hybrid\", \"doors_open_minutes\": 30, \"replay_hours\": 48,
  \"playback\": \"https://origin.example.org/live\", \"performer_ids\": [\"$PERFORMER_ID\"]}")
EVENT_ID=$(field id <<<"$event")
echo "event $EVENT_ID ($(field status <<<"$event"))"

# 3. Tiers. Money is an integer of minor units (cents): 1950 is EUR 19.50. A price
#    (or a pay-what-you-want minimum) below what the payment provider can charge
#    (EUR 0.50) is refused with a 422 naming the field and the minimum.
tier=$(call POST "/v1/events/$EVENT_ID/tiers" '{
  "name": "Stream HD + backstage camera", "price_amount": 1950, "vat_rate_bps": 2100,
  "access": {"quality": "hd", "extras": ["backstage_camera"], "max_devices": 2,
             "on_device_limit": "refuse", "rewatch_hours": 24}}')
TIER_ID=$(field id <<<"$tier")
call POST "/v1/events/$EVENT_ID/tiers" '{
  "name": "Stalls seat", "price_amount": 8500, "capacity": 300, "vat_rate_bps": 900,
  "access": {"quality": "sd", "in_venue": true}}' >/dev/null
call POST "/v1/events/$EVENT_ID/tiers" '{
  "name": "Supporter", "pay_what_you_want": {"min_amount": 500, "suggested_amount": 2500},
  "vat_rate_bps": 2100, "access": {"quality": "uhd"}}' >/dev/null
echo "tiers added; the stream tier is $TIER_ID"

# 4. The split rule: after VAT, Stripe's fees, the platform fee (5 %) and the costs
#    (recouped first), the venue keeps 80 % and the performer gets 20 % (basis points
#    summing to 10000).
call PUT "/v1/events/$EVENT_ID/split-rule" "{
  \"platform_fee_bps\": 500,
  \"costs\": [{\"label\": \"stream production\", \"amount\": 50000, \"currency\": \"EUR\"}],
  \"shares\": [{\"party\": {\"type\": \"venue\", \"id\": \"$VENUE_ID\"}, \"bps\": 8000},
               {\"party\": {\"type\": \"performer\", \"id\": \"$PERFORMER_ID\"}, \"bps\": 2000}]}" \
  >/dev/null

# 5. Publish: the event goes on sale (a 422 lists everything still missing).
published=$(call POST "/v1/events/$EVENT_ID/publish")
echo "event $(field status <<<"$published")"

# 6. A buyer orders two tickets (no key). The answer has the order_token, shown once,
#    and the Stripe PaymentIntent with its client_secret for Stripe.js.
AUTH=
order=$(call POST "/v1/public/events/$EVENT_ID/orders" "{
  \"email\": \"buyer@example.org\", \"items\": [{\"tier_id\": \"$TIER_ID\", \"quantity\": 2}]}")
ORDER_ID=$(field id <<<"$order")
ORDER_TOKEN=$(field order_token <<<"$order")
INTENT=$(field payment.payment_intent_id <<<"$order")
echo "order $ORDER_ID: $(field total_amount <<<"$order") $(field currency <<<"$order") to pay"

# 7. Pay, as Stripe.js would in the browser: a card PaymentMethod with the test card
#    4242 4242 4242 4242, set on the PaymentIntent, then confirmed. Here it happens at
#    localstripe; with a real Stripe test key the checkout page does this step.
stripe() { curl -sS --fail -u "$STRIPE_KEY:" "$LOCALSTRIPE$1" "${@:2}"; }
METHOD=$(stripe /v1/payment_methods -d type=card -d 'card[number]=4242424242424242' \
  -d 'card[exp_month]=12' -d 'card[exp_year]=2034' -d 'card[cvc]=123' | field id)
stripe "/v1/payment_intents/$INTENT" -d "payment_method=$METHOD" >/dev/null
echo "payment: $(stripe "/v1/payment_intents/$INTENT/confirm" -X POST | field status)"

# 8. localstripe sends the signed payment_intent.succeeded webhook; the worker marks
#    the order paid and mails the tickets. The buyer reads the order with its token
#    in the X-Order-Token header (a header, so that it stays out of logged URLs).
ORDER_TOKEN_HEADER="X-Order-Token: $ORDER_TOKEN"
for _ in $(seq 60); do
  paid=$(call GET "/v1/public/orders/$ORDER_ID")
  [[ $(field status <<<"$paid") == paid ]] && break
  sleep 1
done
STATUS=$(field status <<<"$paid")
[[ $STATUS == paid ]] || { echo "the order is still $STATUS" >&2; exit 1; }
ORDER_TOKEN_HEADER=
CODE=$(field tickets.0.code <<<"$paid")
echo "order paid; first ticket code $CODE"

# 9. Redeem the ticket on a device: a viewing session, a short-lived token and the
#    playlist to play.
session=$(call POST "/v1/tickets/$CODE/sessions" '{"device_id": "first-steps-laptop"}')
TOKEN=$(field token <<<"$session")
PLAYLIST=$(field playback.url <<<"$session")
echo "viewing token $TOKEN"
echo "playlist $PLAYLIST (renew the token before $(field refresh_after <<<"$session"))"

# 10. Watch: the player fetches the playlist and its segments with the token; the media
#     server (nginx auth_request) asks authorize for each, with the path it serves.
#     204 lets the request through. The player renews the token by heartbeat.
SEGMENT="/live/$EVENT_ID/hd/seg_00001.ts"
answer=$(curl -sS -o /dev/null -w '%{http_code}' "$API/v1/viewing/authorize" \
  -H "Authorization: Bearer $TOKEN" -H "X-Original-URI: $SEGMENT")
echo "authorize $SEGMENT: $answer"
[[ $answer == 204 ]] || exit 1
AUTH=$TOKEN
renewed=$(call POST /v1/viewing/heartbeat)
echo "heartbeat: a new token until $(field expires_at <<<"$renewed")"
echo "done: order $ORDER_ID paid, watching with viewing token $(field token <<<"$renewed")"
