#!/usr/bin/env bash
# Server CPU per request, end to end: Caddy without the plugin and one or
# two Caddys with it, each answering with `respond` on loopback under wrk,
# for ES256, RS256 and HS256 tokens. For each scenario it takes the Caddy
# process's user+system CPU time (/proc/<pid>/stat) over the measured wrk
# run and divides it by the requests served, then subtracts the same for
# the plugin-less Caddy under the same wrk script in the same round:
#
#   hit   1,000 valid tokens in rotation, all in the cache (default size)
#   miss  the same 1,000 tokens through a cache of 250: every lookup misses,
#         so every request verifies, inserts and evicts
#   bad   one token whose signature does not verify, repeated (401, logged
#         at info; refused from the cache's memory of forged tokens after
#         the first time)
#   forged  1,000 distinct tokens whose signatures do not verify, in
#         rotation: every one is checked in full
#
# The floor is BenchmarkRawVerify (the standard library's verify of the same
# typical token, CPU time per op) run in the same round. Rounds alternate
# the builds so that load from other work falls on all of them; medians of
# the rounds are reported.
#
#   bench/cpu.sh [rounds] [seconds]          default 3 rounds of 4 s
#
# CADDY_PLAIN names a Caddy without the plugin, CADDY_JWT one with it and,
# optionally, CADDY_JWT_OLD a second one with it (an older commit), measured
# in the same rounds; build them with `go build ./cmd/caddy` (and a main
# without the plugin import). Needs wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds="${1:-3}"
duration="${2:-4}"
connections="${WRK_CONNECTIONS:-16}"
algs=(ES256 RS256 HS256)
: "${CADDY_PLAIN:?CADDY_PLAIN must name a Caddy without the plugin}"
: "${CADDY_JWT:?CADDY_JWT must name a Caddy with the plugin}"
builds=(new)
declare -A bin=([plain]="$CADDY_PLAIN" [new]="$CADDY_JWT")
if [[ -n "${CADDY_JWT_OLD:-}" ]]; then builds=(old new); bin[old]="$CADDY_JWT_OLD"; fi

make_work_dir
export XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data"

go run ./bench/mint "$work" "${algs[@]}"
go test -c -o "$work/raw.test" . >/dev/null
write_rotate_lua "$work/rotate.lua"

# site <port> <alg> <cache>: a site block verifying alg's tokens.
site() {
	local keyline="public_key $work/$2/key.pem"
	[[ "$2" == HS256 ]] && keyline="secret $(cat "$work/HS256/secret.txt")"
	echo "http://127.0.0.1:$1 {"
	echo "	jwt {"
	echo "		$keyline"
	echo "		audience api.example.com"
	echo "		claim_header sub X-User-Id"
	echo "		cache $3"
	echo "	}"
	echo "	respond \"ok\" 200"
	echo "}"
}

# start_caddy <build>: one Caddy with a site per algorithm and cache size
# (ports in $port_<alg>_<hit|miss>), or one plain site (ports in $port_plain).
declare -A port
start_caddy() {
	local build="$1"
	for _ in $(seq 5); do
		{ echo "{"; echo "	admin off"; echo "	auto_https off"; echo "}"; } >"$work/Caddyfile"
		if [[ "$build" == plain ]]; then
			port[plain]="$(free_port)"
			{ echo "http://127.0.0.1:${port[plain]} {"; echo "	respond \"ok\" 200"; echo "}"; } >>"$work/Caddyfile"
		else
			for alg in "${algs[@]}"; do
				port[$alg-hit]="$(free_port)"; site "${port[$alg-hit]}" "$alg" 10000 >>"$work/Caddyfile"
				port[$alg-miss]="$(free_port)"; site "${port[$alg-miss]}" "$alg" 250 >>"$work/Caddyfile"
			done
		fi
		"${bin[$build]}" run --config "$work/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
		caddy_pid=$!
		local probe="${port[plain]:-}"
		[[ "$build" == plain ]] || probe="${port[HS256-miss]}"
		if wait_for_caddy "$probe" "$work/HS256/token.txt"; then return; fi
		stop_caddy
	done
	caddy_did_not_start
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$caddy_pid/stat"; }

# measure <name> <round> <port> [wrk args...]: a warmup, then the measured
# run; appends "name round µs-per-request requests/s non-2xx" to results.
measure() {
	local name="$1" round="$2" p="$3"
	shift 3
	wrk -t1 -c"$connections" -d1s "$@" "http://127.0.0.1:$p/" >/dev/null
	local before after
	before="$(cpu_ticks)"
	wrk -t1 -c"$connections" -d"${duration}s" "$@" "http://127.0.0.1:$p/" >"$work/wrk.out"
	after="$(cpu_ticks)"
	awk -v n="$name" -v r="$round" -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" '
		/requests in/ { reqs = $1 }
		/Non-2xx or 3xx responses:/ { non2xx = $5 }
		END { printf "%s %s %.2f %.0f %d\n", n, r, t / hz * 1e6 / reqs, reqs, non2xx + 0 }' "$work/wrk.out" >>"$work/results"
}

: >"$work/results"
for round in $(seq "$rounds"); do
	echo "round $round/$rounds" >&2
	start_caddy plain
	export TOKENS_FILE="$work/ES256/tokens.txt"
	measure plain/rotating "$round" "${port[plain]}" -s "$work/rotate.lua"
	measure plain/fixed "$round" "${port[plain]}" -H "Authorization: Bearer $(cat "$work/ES256/token.txt")"
	stop_caddy
	for build in "${builds[@]}"; do
		start_caddy "$build"
		for alg in "${algs[@]}"; do
			export TOKENS_FILE="$work/$alg/tokens.txt"
			measure "$build/$alg/hit" "$round" "${port[$alg-hit]}" -s "$work/rotate.lua"
			measure "$build/$alg/miss" "$round" "${port[$alg-miss]}" -s "$work/rotate.lua"
			measure "$build/$alg/bad" "$round" "${port[$alg-hit]}" -H "Authorization: Bearer $(cat "$work/$alg/bad.txt")"
			export TOKENS_FILE="$work/$alg/forged.txt"
			measure "$build/$alg/forged" "$round" "${port[$alg-hit]}" -s "$work/rotate.lua"
		done
		stop_caddy
	done
	"$work/raw.test" -test.run '^$' -test.bench BenchmarkRawVerify -test.benchtime 2000x 2>/dev/null |
		awk -v r="$round" '/^BenchmarkRawVerify\// { split($1, a, "/"); sub(/-[0-9]+$/, "", a[2])
			for (i = 2; i < NF; i++) if ($(i+1) == "cpu-ns/op") print "raw/" a[2], r, $i / 1000, 0, 0 }' >>"$work/results"
done

echo "# bench/cpu.sh $rounds $duration  ($(date -u +%Y-%m-%dT%H:%MZ), wrk -t1 -c$connections -d${duration}s, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "# builds: ${builds[*]}; extra = server CPU µs per request minus the plugin-less Caddy's under the same wrk script in the same round; medians over rounds"
cat >"$work/summary.awk" <<'AWK'
{ us[$1, $2] = $3; rps[$1, $2] = $4; errs[$1] += $5; rounds[$2] = 1 }
END {
	printf "plain Caddy: %.1f µs/request rotating tokens, %.1f fixed token\n\n", median_of(list("plain/rotating", 0)), median_of(list("plain/fixed", 0))
	nb = split(builds, b, " "); na = split("ES256 RS256 HS256", algs, " ")
	nn = 0; order[++nn] = "plain/rotating"; order[++nn] = "plain/fixed"
	for (k = 1; k <= na; k++) order[++nn] = "raw/" algs[k]
	for (i = 1; i <= nb; i++) for (k = 1; k <= na; k++) { order[++nn] = b[i] "/" algs[k] "/hit"; order[++nn] = b[i] "/" algs[k] "/miss"; order[++nn] = b[i] "/" algs[k] "/bad"; order[++nn] = b[i] "/" algs[k] "/forged" }
	printf "%-6s %-6s %8s %8s %8s %8s %8s %9s %9s %12s %8s\n", "build", "alg", "raw", "hit+", "miss+", "bad+", "forged+", "miss/raw", "bad-miss", "forged-miss", "non-2xx"
	for (i = 1; i <= nb; i++) for (k = 1; k <= na; k++) {
		a = algs[k]; p = b[i] "/" a
		h = median_of(list(p "/hit", "plain/rotating")); m = median_of(list(p "/miss", "plain/rotating"))
		x = median_of(list(p "/bad", "plain/fixed")); raw = median_of(list("raw/" a, 0))
		q = ""; for (r in rounds) q = q " " (us[p "/miss", r] - us["plain/rotating", r]) / us["raw/" a, r]
		d = ""; for (r in rounds) d = d " " (us[p "/bad", r] - us["plain/fixed", r]) - (us[p "/miss", r] - us["plain/rotating", r])
		f = median_of(list(p "/forged", "plain/rotating"))
		g = ""; for (r in rounds) g = g " " (us[p "/forged", r] - us[p "/miss", r])
		printf "%-6s %-6s %8.1f %8.1f %8.1f %8.1f %8.1f %8.2fx %9.1f %12.1f %8d\n", b[i], a, raw, h, m, x, f, median_of(q), median_of(d), median_of(g), errs[p "/hit"] + errs[p "/miss"]
	}
	print "\nraw: BenchmarkRawVerify CPU µs/op; hit+, miss+, bad+, forged+: extra server CPU µs per request;"
	print "bad-miss, forged-miss: a rejection minus an acceptance (miss), medians of the per-round differences"
	print "per round (server CPU µs per request):"
	for (r = 1; r in rounds; r++) {
		line = "  " r ":"
		for (j = 1; j <= nn; j++) if ((order[j], r) in us) line = line sprintf(" %s=%.1f", order[j], us[order[j], r])
		print line
	}
}
function list(name, base,   l, r) { l = ""; for (r in rounds) l = l " " (us[name, r] - (base ? us[base, r] : 0)); return l }
AWK
awk -v builds="${builds[*]}" -f bench/medians.awk -f "$work/summary.awk" "$work/results"
