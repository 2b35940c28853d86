#!/usr/bin/env bash
# Load test: Caddy with and without the jwt plugin, each answering with
# `respond` on loopback, under wrk. Prints requests/s and p99 latency for
#
#   no_plugin      Caddy built without the plugin (the same request, token included)
#   one_token      the plugin, one valid ES256 token repeated (cache hits)
#   1000_tokens    the plugin, 1,000 valid tokens in rotation (cache hits after the first round)
#   bad_signature  the plugin, a token whose signature does not verify (a full check every time)
#
# and each one's ratio to no_plugin in the same round. wrk builds rotating
# requests in Lua, which costs it CPU that the server then lacks on a small
# machine, so 1000_tokens is compared with no_plugin_rotating: the plugin-less
# Caddy under the same script. Rounds alternate the
# two builds so that load from other work on the machine falls on both; the
# median of the rounds is reported. Everything is bounded: about
# rounds x 5 x (1 s warmup + duration) seconds after the builds.
#
#   bench/load.sh [rounds] [seconds]        default 5 rounds of 6 s
#
# Builds both Caddys with xcaddy (the Caddy version from go.mod) unless
# CADDY_PLAIN and CADDY_JWT name existing binaries. Needs wrk and xcaddy.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH="$(go env GOPATH)/bin:$PATH"
rounds="${1:-5}"
duration="${2:-6}"
threads="${WRK_THREADS:-1}"
connections="${WRK_CONNECTIONS:-16}"

make_work_dir
# Caddy's autosave and storage go to the work directory, not the user's.
export XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data"

version="$(go list -m -f '{{.Version}}' github.com/caddyserver/caddy/v2)"
plain="${CADDY_PLAIN:-}"
withjwt="${CADDY_JWT:-}"
if [[ -z "$plain" ]]; then
	echo "building Caddy $version without the plugin (xcaddy)" >&2
	xcaddy build "$version" --output "$work/caddy-plain" >"$work/build-plain.log" 2>&1 || { cat "$work/build-plain.log"; exit 1; }
	plain="$work/caddy-plain"
fi
if [[ -z "$withjwt" ]]; then
	echo "building Caddy $version with the plugin (xcaddy)" >&2
	xcaddy build "$version" --output "$work/caddy-jwt" \
		--with "github.com/jwtgate/caddy-jwt@v0.0.0=$PWD" >"$work/build-jwt.log" 2>&1 || { cat "$work/build-jwt.log"; exit 1; }
	withjwt="$work/caddy-jwt"
fi

go run ./bench/mint "$work"
write_rotate_lua "$work/rotate.lua"

# start_caddy <binary> <with jwt: yes|no>: runs Caddy on a free port; a
# port taken between the check and the bind is retried with another.
start_caddy() {
	local bin="$1" jwt="$2"
	for _ in $(seq 5); do
		port="$(free_port)"
		{
			echo "{"
			echo "	admin off"
			echo "	auto_https off"
			echo "}"
			echo "http://127.0.0.1:$port {"
			if [[ "$jwt" == yes ]]; then
				echo "	jwt {"
				echo "		public_key $work/key.pem"
				echo "		audience api.example.com"
				echo "		claim_header sub X-User-Id"
				echo "	}"
			fi
			echo "	respond \"ok\" 200"
			echo "}"
		} >"$work/Caddyfile"
		# Rejections are logged at info, as in production, into a file.
		"$bin" run --config "$work/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
		caddy_pid=$!
		if wait_for_caddy "$port" "$work/token.txt"; then return; fi
		stop_caddy
	done
	caddy_did_not_start
}

# run_wrk <scenario> <round> [wrk args...]: a short warmup, then the
# measured run; appends "scenario round req/s p99ms" to results.
run_wrk() {
	local scenario="$1" round="$2"
	shift 2
	wrk -t"$threads" -c"$connections" -d1s "$@" "http://127.0.0.1:$port/" >/dev/null
	wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$@" "http://127.0.0.1:$port/" >"$work/wrk.out"
	awk -v s="$scenario" -v r="$round" '
		/Requests\/sec:/ { rps = $2 }
		$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
			p99 = (u == "us") ? v / 1000 : (u == "ms") ? v : (u == "s") ? v * 1000 : v }
		/Non-2xx or 3xx responses:/ { non2xx = $5 }
		END { printf "%s %s %.0f %.3f %s\n", s, r, rps, p99, non2xx + 0 }' "$work/wrk.out" >>"$work/results"
}

token="$(cat "$work/token.txt")"
bad="$(cat "$work/bad.txt")"
export TOKENS_FILE="$work/tokens.txt"
: >"$work/results"
for round in $(seq "$rounds"); do
	echo "round $round/$rounds" >&2
	start_caddy "$plain" no
	run_wrk no_plugin "$round" -H "Authorization: Bearer $token"
	run_wrk no_plugin_rotating "$round" -s "$work/rotate.lua"
	stop_caddy
	start_caddy "$withjwt" yes
	run_wrk one_token "$round" -H "Authorization: Bearer $token"
	run_wrk 1000_tokens "$round" -s "$work/rotate.lua"
	run_wrk bad_signature "$round" -H "Authorization: Bearer $bad"
	stop_caddy
done

echo "# bench/load.sh $rounds $duration  ($(date -u +%Y-%m-%dT%H:%MZ), Caddy $version, wrk -t$threads -c$connections -d${duration}s, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
cat >"$work/summary.awk" <<'AWK'
{ rps[$1, $2] = $3; p99[$1, $2] = $4; errs[$1] += $5; rounds[$2] = 1 }
END {
	split("no_plugin no_plugin_rotating one_token 1000_tokens bad_signature", names, " ")
	split("no_plugin no_plugin_rotating no_plugin no_plugin_rotating no_plugin", bases, " ")
	printf "%-19s %11s %8s %12s %-19s %8s\n", "scenario", "requests/s", "p99 ms", "ratio", "(to)", "non-2xx"
	for (k = 1; k <= 5; k++) {
		n = names[k]; r = ""; p = ""; q = ""
		for (round in rounds) { r = r " " rps[n, round]; p = p " " p99[n, round]; q = q " " rps[n, round] / rps[bases[k], round] }
		printf "%-19s %11.0f %8.2f %11.2fx %-19s %8d\n", n, median_of(r), median_of(p), median_of(q), bases[k], errs[n]
	}
	print "\nratio: median over the rounds of requests/s divided by the baseline's in the same round"
	print "per round (requests/s / p99 ms):"
	for (round = 1; round in rounds; round++) {
		line = "  " round ":"
		for (k = 1; k <= 5; k++) line = line sprintf("  %s %.0f/%.2f", names[k], rps[names[k], round], p99[names[k], round])
		print line
	}
}
AWK
awk -f bench/medians.awk -f "$work/summary.awk" "$work/results"
