#!/usr/bin/env bash
# Fuzzes every fuzz target of the module, one after the other, each for the
# budget given as the first argument, a -fuzztime value: a count of
# executions (1000x, what scripts/test.sh gives) or a time (10m, what
# `make fuzz` gives for a long run). A count does not depend on the
# machine's load; a time budget on a busy machine can run out before the
# fuzzer gets going and fail with "context deadline exceeded", so only long
# runs, outside the test suite, use one.
#
# A crasher is written to <package>/testdata/fuzz/<Target>/, fails the run,
# and from then on is a test case of every `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."

budget="${1:?usage: scripts/fuzz.sh <budget per target, e.g. 1000x or 10m>}"

# "<package> <target>" pairs. TestEveryFuzzTargetIsFuzzedByTheTestScript
# fails when a Fuzz function of any package is missing here, or when an
# entry names one that no longer exists (go test -fuzz would pass it
# silently). They are listed rather than found with `go test -list`, which
# would cost one more compile of Caddy's packages.
targets=(
	". FuzzReadToken"
	". FuzzVerify"
	". FuzzVerifySignedClaims"
	". FuzzClaimHeaderValue"
	". FuzzUnmarshalCaddyfile"
	". FuzzFetchedJWKS"
	"./internal/jws FuzzClaimsParser"
	". FuzzDPoPProof"
	"./internal/jws FuzzBase64URLDecoder"
)

for entry in "${targets[@]}"; do
	read -r pkg target <<<"$entry"
	echo "-- $pkg $target ($budget)"
	go test -run '^$' -fuzz "^${target}\$" -fuzztime "$budget" "$pkg"
done
