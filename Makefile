# The two commands of the README's Quick start, and a long fuzz run.

.PHONY: run test fuzz

# Build Caddy with the plugin and run it on the quick-start example.
run:
	go run ./cmd/caddy run --config examples/quickstart/Caddyfile --adapter caddyfile

# Install what the tests need (xcaddy, redis-server, chromium, node's
# jsonwebtoken), build Caddy with xcaddy once, run every test, then fuzz
# each target for a fixed number of executions.
test:
	./scripts/test.sh

# Fuzz every target for FUZZ_TIME each (a time, e.g. 30m, or a count such
# as 100000x), one after the other: for looking for crashers on purpose,
# not part of `make test`.
FUZZ_TIME ?= 10m
fuzz:
	./scripts/fuzz.sh $(FUZZ_TIME)
