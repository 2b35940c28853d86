#!/usr/bin/env bash
# Per-request cost of a redis revocation store, as ratios to the same
# handler without revocation: BenchmarkRedisRevocation (revoke_bench_test.go)
# in rounds, against a real redis-server on loopback that the benchmark
# starts. Ratios are taken from CPU time per request (cpu-ns/op), which a
# shared machine disturbs less than wall-clock time; both are printed.
# Output: bench/results/redis.txt.
#
#   bench/redis.sh [rounds]     default 5 rounds, about 20 s each on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
out=bench/results/redis.txt
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

go test -c -o "$work/bench.test" .
{
	echo "# bench/redis.sh $rounds  ($(date -u +%Y-%m-%dT%H:%MZ), $(go version | cut -d' ' -f3), $(redis-server --version | cut -d' ' -f3), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
	for _ in $(seq "$rounds"); do
		"$work/bench.test" -test.run '^$' -test.bench 'BenchmarkRedisRevocation' -test.benchmem 2>/dev/null | grep '^Benchmark'
	done
} >"$work/raw.txt"

awk '
function median(key,   n, i, j, t, a) {
	n = split(vals[key], a, " ")
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
/^#/ { print; next }
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^BenchmarkRedisRevocation\//, "", name)
	if (!(name in seen)) { order[++count] = name; seen[name] = 1 }
	for (i = 3; i < NF; i++) {
		if ($(i+1) == "ns/op") vals[name ",wall"] = vals[name ",wall"] " " $i
		if ($(i+1) == "cpu-ns/op") vals[name ",cpu"] = vals[name ",cpu"] " " $i
		if ($(i+1) == "allocs/op") vals[name ",allocs"] = vals[name ",allocs"] " " $i
	}
}
END {
	printf "\n%-10s %12s %12s %9s %14s\n", "revocation", "wall ns/op", "cpu ns/op", "allocs/op", "cpu ratio"
	base = median("none,cpu")
	for (k = 1; k <= count; k++) {
		n = order[k]
		printf "%-10s %12.0f %12.0f %9.0f %13.2fx\n", n, median(n ",wall"), median(n ",cpu"), median(n ",allocs"), median(n ",cpu") / base
	}
}' "$work/raw.txt" >"$work/summary.txt"

{
	cat "$work/summary.txt"
	echo
	echo "# raw benchmark output"
	grep '^Benchmark' "$work/raw.txt"
} >"$out"
cat "$work/summary.txt"
