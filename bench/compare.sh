#!/usr/bin/env bash
# Runs the Go benchmarks of the request path for two commits side by side,
# in alternating rounds, so that both see the same machine load, and prints
# each one's medians (bench/gobench.awk) and the new/old ratio per
# benchmark. Output: bench/results/compare.txt.
#
#   bench/compare.sh OLD [NEW] [rounds]   NEW defaults to the work tree, rounds to 5
#   BENCHTIME=2000x bench/compare.sh ...  a fixed count per benchmark (default 1s)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
old="$1"
new="${2:-}"
rounds="${3:-5}"
out=bench/results/compare.txt
work="$(mktemp -d)"
cleanup() {
	git worktree remove --force "$work/old" >/dev/null 2>&1 || true
	[ -z "$new" ] || git worktree remove --force "$work/new" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

git worktree add --detach "$work/old" "$old" >/dev/null 2>&1
(cd "$work/old" && go test -c -o "$work/old.test" .)
if [ -n "$new" ]; then
	git worktree add --detach "$work/new" "$new" >/dev/null 2>&1
	(cd "$work/new" && go test -c -o "$work/new.test" .)
else
	new="work tree at $(git rev-parse --short HEAD)"
	go test -c -o "$work/new.test" .
fi

bench=(-test.run '^$' -test.bench 'BenchmarkServeHTTP|BenchmarkRawVerify' -test.benchmem -test.benchtime "${BENCHTIME:-1s}")
for i in $(seq "$rounds"); do
	"$work/old.test" "${bench[@]}" 2>/dev/null | grep '^Benchmark' >>"$work/old.txt"
	"$work/new.test" "${bench[@]}" 2>/dev/null | grep '^Benchmark' >>"$work/new.txt"
done

{
	echo "# bench/compare.sh $old ${2:-(work tree)} $rounds  ($(date -u +%Y-%m-%dT%H:%MZ), $(go version | cut -d' ' -f3), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
	echo
	echo "## old: $old"
	gobench_summary "$work/old.txt"
	echo
	echo "## new: $new"
	gobench_summary "$work/new.txt"
	echo
	echo "## new / old, medians"
	gobench_summary "$work/old.txt" | awk '/^benchmark/{p=1;next} p&&NF==0{exit} p{print "old",$0}' >"$work/old.med"
	gobench_summary "$work/new.txt" | awk '/^benchmark/{p=1;next} p&&NF==0{exit} p{print "new",$0}' >"$work/new.med"
	cat "$work/old.med" "$work/new.med" | awk '
		$1=="old" { wall[$2]=$3; cpu[$2]=$4; allocs[$2]=$6; order[++n]=$2 }
		$1=="new" { nwall[$2]=$3; ncpu[$2]=$4; nallocs[$2]=$6 }
		END {
			printf "%-32s %10s %10s %12s\n", "benchmark", "wall", "cpu", "allocs/op"
			for (i = 1; i <= n; i++) {
				k = order[i]
				if (!(k in nwall)) continue
				printf "%-32s %9.2fx %9.2fx %5d -> %-5d\n", k, nwall[k]/wall[k], ncpu[k]/cpu[k], allocs[k], nallocs[k]
			}
		}'
} | tee "$out"
