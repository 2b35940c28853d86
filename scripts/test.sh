#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds Caddy with the plugin
# through xcaddy once, runs unit and integration tests under the race
# detector, then fuzzes each target for a fixed number of executions.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"

./scripts/install-test-deps.sh

echo "== go vet"
go vet ./...

# One Caddy build per run, shared by every integration test through
# CADDY_BIN. xcaddy needs the version-pinned replace while the module is not
# published. Caddy is built with the race detector, so that
# the requests and reloads of the integration tests also look for races in
# the plugin as Caddy really runs it (every integration test fails on a
# DATA RACE in its log). On a 2-core machine from a cold cache this costs
# about 80 s more than a plain build (233 s against 155 s).
build_dir="$(mktemp -d)"
trap 'rm -rf "$build_dir"' EXIT
echo "== xcaddy build (race detector)"
CADDY_VERSION="$(go list -m -f '{{.Version}}' github.com/caddyserver/caddy/v2)"
XCADDY_RACE_DETECTOR=1 xcaddy build "$CADDY_VERSION" --output "$build_dir/caddy" \
	--with "github.com/jwtgate/caddy-jwt@v0.0.0=$PWD" >"$build_dir/xcaddy.log" 2>&1 ||
	{ cat "$build_dir/xcaddy.log"; exit 1; }
export CADDY_BIN="$build_dir/caddy"
# grep reads all of the list: with -q it would stop at the match, and
# pipefail would then fail the run on Caddy's SIGPIPE.
"$CADDY_BIN" list-modules | grep '^http.handlers.jwt$' >/dev/null

echo "== go test"
go test -race -count=1 -timeout 20m ./...

# Each fuzz target for a fixed number of executions beyond its seed corpus
# (the corpora already ran above as regular tests); `make fuzz` is the long
# run, with a time budget.
echo "== go test -fuzz"
./scripts/fuzz.sh "${FUZZ_TIME:-1000x}"
