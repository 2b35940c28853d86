#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine: xcaddy (Go
# module proxy); redis-server, redis-sentinel, chromium, wrk, prometheus,
# php-cgi and python3-flask (Debian packages); and the npm packages of each
# folder under integration_test/testdata that has a package.json. Anything already
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

# Each Debian package with the file that tells whether it is installed.
missing=()
while read -r package file; do
	[ -e "$file" ] || missing+=("$package")
done <<'PACKAGES'
redis-server /usr/bin/redis-server
redis-sentinel /usr/bin/redis-sentinel
chromium /usr/bin/chromium
wrk /usr/bin/wrk
prometheus /usr/bin/prometheus
php-cgi /usr/bin/php-cgi
python3-flask /usr/lib/python3/dist-packages/flask/__init__.py
PACKAGES
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

# npm ci installs exactly what each package-lock.json records; a folder
# whose node_modules is newer than its lock file is already installed.
for lock in integration_test/testdata/*/package-lock.json; do
	dir="$(dirname "$lock")"
	if ! command -v npm >/dev/null 2>&1; then
		echo "npm not installed (tests that need $dir will skip)" >&2
		continue
	fi
	[ -d "$dir/node_modules" ] && [ "$dir/node_modules" -nt "$lock" ] && continue
	echo "installing the npm packages of $dir"
	(cd "$dir" && npm ci --no-audit --no-fund --silent >/dev/null)
	touch "$dir/node_modules"
done
