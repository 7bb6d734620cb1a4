#!/usr/bin/env bash
# `make local-aws`: a local AWS (moto) on 127.0.0.1:$LOCAL_AWS_PORT for `make watch`, seeded
# with the sample bucket and configuration (events/config.json, as an SSM SecureString), and
# the environment the function needs written to $WATCH_ENV for cargo lambda's --env-file.
# Runs until Ctrl-C, then stops the server.
set -euo pipefail
cd "$(dirname "$0")/../.."

PORT=${LOCAL_AWS_PORT:-4566}
WATCH_ENV=${WATCH_ENV:-out/watch.env}
PY=.venv/bin/python
PARAM=/sync-to-s3/watch-config
ENDPOINT=http://127.0.0.1:$PORT
BUCKET=$($PY -c 'import json; print(json.load(open("events/config.json"))["s3_aws_bucket_name"])')

mkdir -p "$(dirname "$WATCH_ENV")"
$PY scripts/local_aws/local_aws.py --port "$PORT" --keep-alive &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do
  curl -s -o /dev/null "$ENDPOINT/moto-api/" 2>/dev/null && break
  sleep 0.1
done
AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  $PY scripts/local_aws/seed_local_aws.py --endpoint "$ENDPOINT" --bucket "$BUCKET" \
  --parameter "$PARAM" --parameter-file events/config.json >/dev/null
cat >"$WATCH_ENV" <<ENV
AWS_ENDPOINT_URL=$ENDPOINT
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
AWS_REGION=us-east-1
AWS_EC2_METADATA_DISABLED=true
AWS_CONFIG_FILE=/dev/null
AWS_SHARED_CREDENTIALS_FILE=/dev/null
SYNC_CONFIG_PARAMETER=$PARAM
ENV
cat <<MSG

Local AWS on $ENDPOINT: bucket $BUCKET, configuration in SSM $PARAM.
The function's environment is in $WATCH_ENV. In other terminals:

  make watch                                  # cargo lambda's emulator, with $WATCH_ENV
  make invoke EVENT=events/sqs-batch.json     # then look at the bucket:
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing $PY scripts/local_aws/seed_local_aws.py --endpoint $ENDPOINT --bucket $BUCKET --dump out/watch-s3

Ctrl-C stops the local AWS.
MSG
wait "$server"
