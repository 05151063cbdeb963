#!/usr/bin/env bash
# Scale-out on one machine: migrate, then N app processes (one worker each, threads for
# Socket.IO) on ports 8001..800N. Put nginx with deploy/nginx/*.conf in front.
#   DATABASE_URL=postgresql://... REDIS_URL=redis://... SECRET_KEY=... deploy/run-scaleout.sh 2
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL}" "${REDIS_URL:?set REDIS_URL}" "${SECRET_KEY:?set SECRET_KEY}"
export TRADEOFF_PROXY_COUNT="${TRADEOFF_PROXY_COUNT:-1}"
.venv/bin/flask --app wsgi db upgrade
pids=()
for i in $(seq 1 "${1:-2}"); do
  .venv/bin/gunicorn --workers 1 --threads 400 --bind "127.0.0.1:$((8000 + i))" wsgi:app &
  pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null' EXIT INT TERM
wait
