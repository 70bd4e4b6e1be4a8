#!/usr/bin/env bash
# The whole test suite (`npm test` runs this): unit, contract (SQLite + PostgreSQL, filesystem + S3) and
# end-to-end tests with real clients. Starts the S3 server from ../shared/services when
# it is there and points the PostgreSQL contract tests at 127.0.0.1:5432; whatever is
# missing is skipped with a stated reason, never silently passed.
set -uo pipefail
cd "$(dirname "$0")/.."
SHARED="${BERTH_SHARED_DIR:-$(cd .. && pwd)/shared}"

if [ -z "${BERTH_TEST_PG_URL:-}" ] && command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
  export BERTH_TEST_PG_URL="postgres://postgres@127.0.0.1:5432/test"
fi

if [ -z "${S3_ENDPOINT:-}" ] && [ -f "$SHARED/services/s3-start.sh" ] && [ "${BERTH_TEST_NO_S3:-}" != "1" ]; then
  if s3env="$(bash "$SHARED/services/s3-start.sh" 2>/tmp/berth-s3-start.log)"; then
    eval "$s3env"
    export S3_ENDPOINT S3_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY S3_BUCKET S3_REGION S3_FORCE_PATH_STYLE
  else
    echo "warning: the S3 server did not start (see /tmp/berth-s3-start.log); S3 tests will be skipped" >&2
  fi
fi

npm run test:vitest
