#!/usr/bin/env bash
# Runs the Go benchmarks of the request path (bench_test.go) in rounds and
# prints the medians and the ratios the README quotes. The machine may be
# shared: besides wall-clock ns/op, which mostly measures waiting for a core
# when others are busy, it reports CPU time per request (cpu-ns/op, the
# process's user+system time, GC on other cores included). Ratios are given
# in both. Output: bench/results/gobench.txt; bench/gobench.awk makes the
# summary (also from an earlier gobench.txt:
# awk -f bench/medians.awk -f bench/gobench.awk FILE).
#
#   bench/gobench.sh [rounds]     default 5 rounds, about 3 minutes each on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds="${1:-5}"
out=bench/results/gobench.txt
make_work_dir

go test -c -o "$work/bench.test" .
{
	echo "# bench/gobench.sh $rounds  ($(date -u +%Y-%m-%dT%H:%MZ), $(go version | cut -d' ' -f3), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
	# Rounds run the whole set in turn, so that load that comes and goes
	# is spread over every benchmark rather than hitting one.
	bench_rounds "$rounds" 'BenchmarkServeHTTP|BenchmarkRawVerify'
	"$work/bench.test" -test.run '^$' -test.bench 'BenchmarkCacheMemory' -test.benchtime 1x -test.benchmem 2>/dev/null | grep '^Benchmark'
} >"$work/raw.txt"

gobench_summary "$work/raw.txt" >"$work/summary.txt"
write_bench_results "$out"
