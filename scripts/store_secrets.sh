#!/usr/bin/env bash
# `make secrets`: stores the write keys (and the External ID) in the SSM SecureString the
# function reads, with the caller's AWS credentials, through `sync-to-s3 secrets`. Values come
# from WRITE_KEYS (comma-separated) and EXTERNAL_ID, or are asked for without echo.
set -euo pipefail
BIN=$1
PARAMETER=${SECRETS_PARAMETER:-/sync-to-s3/secrets}
keys=${WRITE_KEYS:-}
external_id=${EXTERNAL_ID:-}
if [ -z "$keys" ] && [ -z "$external_id" ] && [ -t 0 ]; then
  read -r -s -p "Write keys of your Segment sources (comma-separated, empty to keep): " keys; echo
  read -r -s -p "External ID for RoleArn (empty to keep): " external_id; echo
fi
args=(secrets --parameter "$PARAMETER")
IFS=',' read -r -a list <<<"$keys"
for k in "${list[@]}"; do
  k=$(echo "$k" | xargs)
  [ -n "$k" ] && args+=(--write-key "$k")
done
[ -n "$external_id" ] && args+=(--external-id "$external_id")
exec "$BIN" "${args[@]}"
