#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine: xcaddy (Go
# module proxy), redis-server and chromium (Debian packages), and node's
# jsonwebtoken (npm) for the interoperability tests. Anything already
# present is left alone. Without root or apt, it says what is missing and
# the tests that need it skip (under CI=true they fail instead).
set -euo pipefail
cd "$(dirname "$0")/.."

XCADDY_VERSION=v0.4.5
GOBIN_DIR="$(go env GOPATH)/bin"

if ! command -v xcaddy >/dev/null 2>&1 && [ ! -x "$GOBIN_DIR/xcaddy" ]; then
	echo "installing xcaddy $XCADDY_VERSION"
	go install "github.com/caddyserver/xcaddy/cmd/xcaddy@$XCADDY_VERSION"
fi

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "installing ${missing[*]} from Debian's packages"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	else
		echo "not installed (tests that need them will skip): ${missing[*]}" >&2
	fi
fi

node_dir=integration_test/testdata/node
if command -v npm >/dev/null 2>&1 && [ ! -d "$node_dir/node_modules/jsonwebtoken" ]; then
	echo "installing node jsonwebtoken for the interoperability tests"
	(cd "$node_dir" && npm install --no-audit --no-fund --silent >/dev/null)
fi
