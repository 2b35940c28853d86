# The two commands of the README's Quick start.

.PHONY: run test

# Build Caddy with the plugin and run it on the quick-start example.
run:
	go run ./cmd/caddy run --config examples/quickstart/Caddyfile --adapter caddyfile

# Install what the tests need (xcaddy, redis-server, chromium, node's
# jsonwebtoken), build Caddy with xcaddy once, run every test, then fuzz.
test:
	./scripts/test.sh
