#!/usr/bin/env bash
# Runs the Go benchmarks of the request path (bench_test.go) in rounds and
# prints the medians and the ratios the README quotes. The machine may be
# shared: the ratios use CPU time per request (cpu-ns/op, the process's
# user+system time, GC included), which other processes' load barely moves,
# while wall-clock ns/op does. Output: bench/results/gobench.txt.
#
#   bench/gobench.sh [rounds]     default 5 rounds, about 3 minutes each on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
out=bench/results/gobench.txt
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

go test -c -o "$work/bench.test" .
{
	echo "# bench/gobench.sh $rounds  ($(date -u +%Y-%m-%dT%H:%MZ), $(go version | cut -d' ' -f3), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
	# Rounds run the whole set in turn, so that load that comes and goes
	# is spread over every benchmark rather than hitting one.
	for i in $(seq "$rounds"); do
		"$work/bench.test" -test.run '^$' -test.bench 'BenchmarkServeHTTP|BenchmarkRawVerify' -test.benchmem 2>/dev/null | grep '^Benchmark'
	done
	"$work/bench.test" -test.run '^$' -test.bench 'BenchmarkCacheMemory' -test.benchtime 1x -test.benchmem 2>/dev/null | grep '^Benchmark'
} >"$work/raw.txt"

awk '
function median(key,   n, i, j, t, a) {
	n = split(vals[key], a, " ")
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
/^#/ { print; next }
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
	if (!(name in seen)) { order[++count] = name; seen[name] = 1 }
	for (i = 3; i < NF; i++) {
		if ($(i+1) == "ns/op") vals[name ",wall"] = vals[name ",wall"] " " $i
		if ($(i+1) == "cpu-ns/op") vals[name ",cpu"] = vals[name ",cpu"] " " $i
		if ($(i+1) == "allocs/op") vals[name ",allocs"] = vals[name ",allocs"] " " $i
		if ($(i+1) == "B/op") vals[name ",bytes"] = vals[name ",bytes"] " " $i
		if ($(i+1) == "heap-bytes/10k-tokens") vals[name ",heap"] = vals[name ",heap"] " " $i
	}
}
END {
	printf "\n%-32s %12s %12s %8s %9s\n", "benchmark (median)", "wall ns/op", "cpu ns/op", "B/op", "allocs/op"
	for (k = 1; k <= count; k++) {
		n = order[k]
		if ((n ",cpu") in vals)
			printf "%-32s %12.0f %12.0f %8.0f %9.0f\n", n, median(n ",wall"), median(n ",cpu"), median(n ",bytes"), median(n ",allocs")
	}
	base = median("ServeHTTP/no_plugin,cpu"); baseAllocs = median("ServeHTTP/no_plugin,allocs")
	print "\nhandler cost = benchmark - ServeHTTP/no_plugin (the same chain and request without the jwt handler), CPU time"
	split("HS256 RS256 ES256 EdDSA", algs, " ")
	printf "%-6s %10s %10s %10s %10s %10s %9s %13s\n", "alg", "raw ns", "miss ns", "miss/raw", "hit ns", "malformed", "bad sig", "hit allocs"
	for (k = 1; k <= 4; k++) {
		a = algs[k]
		raw = median("RawVerify/" a ",cpu"); miss = median("ServeHTTP/" a "/miss,cpu") - base
		printf "%-6s %10.0f %10.0f %9.2fx %10.0f %10.0f %9.0f %13d\n", a, raw, miss, miss / raw,
			median("ServeHTTP/" a "/cached,cpu") - base, median("ServeHTTP/" a "/malformed,cpu") - base,
			median("ServeHTTP/" a "/bad_signature,cpu") - base, median("ServeHTTP/" a "/cached,allocs") - baseAllocs
	}
	esMiss = median("ServeHTTP/ES256/miss,cpu") - base
	print "\ntargets"
	printf "cache miss <= 1.25x raw verify:   ES256 %.2fx, RS256 %.2fx\n", esMiss / median("RawVerify/ES256,cpu"), (median("ServeHTTP/RS256/miss,cpu") - base) / median("RawVerify/RS256,cpu")
	printf "malformed <= 0.05x ES256 miss:    %.3fx (%.0f ns)\n", (median("ServeHTTP/ES256/malformed,cpu") - base) / esMiss, median("ServeHTTP/ES256/malformed,cpu") - base
	printf "cache hit <= 8 allocs/request:    %d (ES256)\n", median("ServeHTTP/ES256/cached,allocs") - baseAllocs
	if (("CacheMemory,heap") in vals)
		printf "10,000 cached tokens < 20 MB:     %.1f MB (typical ES256 access tokens, 11 claims)\n", median("CacheMemory,heap") / 1e6
}' "$work/raw.txt" >"$work/summary.txt"

{
	cat "$work/summary.txt"
	echo
	echo "# raw benchmark output"
	grep '^Benchmark' "$work/raw.txt"
} >"$out"
cat "$work/summary.txt"
