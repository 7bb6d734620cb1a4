#!/usr/bin/env bash
# `make run`: the function on the sample events, through the real Lambda code path, against a
# local AWS (moto on 127.0.0.1): S3 for the objects, STS for the role, SSM for the configuration.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-out}
PY=.venv/bin/python
BIN=target/debug/sync-to-s3
HARNESS=target/debug/examples/local_lambda
PARAM=/sync-to-s3/demo-config
BUCKET=$($PY -c 'import json; print(json.load(open("events/config.json"))["s3_aws_bucket_name"])')

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

rm -rf "$OUT" && mkdir -p "$OUT"
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

step "1. Starting a local AWS (moto: S3, STS, SSM) on 127.0.0.1"
mkfifo "$work/stdin"
$PY scripts/local_aws/local_aws.py --port 0 <"$work/stdin" >"$work/port" 2>"$OUT/local-aws.log" &
server_pid=$!
exec 3>"$work/stdin" # keep its stdin open; it exits when this script ends
for _ in $(seq 1 100); do grep -q '^PORT ' "$work/port" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/^PORT //p' "$work/port")
[ -n "$PORT" ] || { echo "local AWS did not start; see $OUT/local-aws.log"; exit 1; }
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
echo "   endpoint $AWS_ENDPOINT_URL"

step "2. Creating bucket '$BUCKET' and the SecureString parameter $PARAM (from events/config.json)"
$PY scripts/local_aws/seed_local_aws.py --endpoint "$AWS_ENDPOINT_URL" --bucket "$BUCKET" \
  --parameter "$PARAM" --parameter-file events/config.json

step "3. Running the function as Lambda does (Runtime API on 127.0.0.1), configured from SSM"
echo "   SYNC_CONFIG_PARAMETER=$PARAM; it assumes the configured role with its External ID (moto's STS)"
SYNC_CONFIG_PARAMETER=$PARAM FUNCTION_LOG="$OUT/function.log" $HARNESS "$BIN" \
  events/sqs-batch.json events/apigw-v2-batch.json events/apigw-v2-browser-track.json \
  events/apigw-v1-rest.json events/sqs-eventbridge.json events/invoke-batch.json

step "4. What the function wrote to s3://$BUCKET (copies under $OUT/s3/)"
echo "   each object: its row count, then its first rows, one line per column (cells cut at 48"
echo "   characters are marked …; the whole files are under $OUT/s3/)"
$PY scripts/local_aws/seed_local_aws.py --endpoint "$AWS_ENDPOINT_URL" --bucket "$BUCKET" --dump "$OUT/s3" |
  $PY scripts/preview_objects.py "$OUT/s3"

step "5. A small Segment S3 Classic history, replayed with sync-to-s3 backfill"
if [ -f ../shared/bench/gen_events.py ]; then
  $PY scripts/gen_classic.py "$work/classic" --sources 2 --days 1 --objects 1 --events 40 \
    --s3 "$AWS_ENDPOINT_URL" segment-classic-demo | sed 's/^/   /'
  echo "   $BIN backfill s3://segment-classic-demo/segment-logs/ --resume $OUT/backfill.state"
  SYNC_CONFIG_PARAMETER=$PARAM $BIN backfill s3://segment-classic-demo/segment-logs/ \
    --resume "$OUT/backfill.state" 2>"$OUT/backfill.log" | sed 's/^/   /'
  echo "   new keys (stamped with the day Segment received the events, 2015-05-27):"
  $PY scripts/local_aws/seed_local_aws.py --endpoint "$AWS_ENDPOINT_URL" --bucket "$BUCKET" --dump "$OUT/s3" |
    cut -f1 | grep '2015-05-27' | sed 's/^/     /'
else
  echo "   (skipped: ../shared/bench/gen_events.py, which makes the sample events, is not beside this clone)"
fi

step "6. Done"
echo "   The function's JSON logs (one summary line and one CloudWatch EMF line per invocation): $OUT/function.log"
echo "   Role assumptions recorded by the local STS:"
$PY - "$AWS_ENDPOINT_URL" <<'PYEOF'
import json, sys, urllib.request
data = json.load(urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json"))
for r in data.get("sts", {}).get("AssumedRole", []):
    print("     role %s, session %s, External ID sent: %s" % (r.get("arn", "?"), r.get("session_name"), "yes" if r.get("external_id") else "no"))
PYEOF
echo "   Try your own: SYNC_CONFIG=\"\$(cat events/config.json)\" $BIN invoke events/invoke-single.json --dry-run $OUT/dry"
