#!/usr/bin/env bash
# Lints docs/openapi.json with Redocly's recommended rules (redocly.yaml): fails on any error,
# prints the warnings. The document itself comes from `npm run openapi`.
set -euo pipefail
cd "$(dirname "$0")/.."
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
npx --no-install redocly lint kaas --format stylish
