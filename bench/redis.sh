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
. bench/lib.sh
rounds="${1:-5}"
out=bench/results/redis.txt
make_work_dir

go test -c -o "$work/bench.test" .
{
	echo "# bench/redis.sh $rounds  ($(date -u +%Y-%m-%dT%H:%MZ), $(go version | cut -d' ' -f3), $(redis-server --version | cut -d' ' -f3), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
	bench_rounds "$rounds" 'BenchmarkRedisRevocation'
} >"$work/raw.txt"

awk -f bench/medians.awk -f bench/redis.awk "$work/raw.txt" >"$work/summary.txt"
write_bench_results "$out"
