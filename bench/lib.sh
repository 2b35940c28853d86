# Shell functions the bench scripts share; sourced, not run.

# free_port prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	echo "no free port found" >&2; exit 1
}

# make_work_dir makes the temporary directory $work, removed when the script
# exits, after stopping the Caddy in $caddy_pid if one is running.
make_work_dir() {
	work="$(mktemp -d)"
	caddy_pid=""
	trap remove_work_dir EXIT
}

remove_work_dir() {
	if [[ -n "$caddy_pid" ]]; then stop_caddy; fi
	rm -rf "$work"
}

# wait_for_caddy <port> <token file>: polls, for up to 10 s, until the Caddy
# in $caddy_pid answers a request with the token on port; fails when it does
# not, or exits first.
wait_for_caddy() {
	for _ in $(seq 100); do
		if curl -fsS -o /dev/null -H "Authorization: Bearer $(cat "$2")" "http://127.0.0.1:$1/" 2>/dev/null; then return 0; fi
		kill -0 "$caddy_pid" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

stop_caddy() {
	kill "$caddy_pid" 2>/dev/null || true
	wait "$caddy_pid" 2>/dev/null || true
	caddy_pid=""
}

# caddy_did_not_start shows the end of Caddy's log and exits.
caddy_did_not_start() {
	tail -n 20 "$work/caddy.log" >&2
	echo "Caddy did not start" >&2
	exit 1
}

# write_rotate_lua <file>: a wrk script whose requests carry, in turn, the
# tokens of the file $TOKENS_FILE names (one a line, read when wrk starts).
write_rotate_lua() {
	cat >"$1" <<'LUA'
-- Each request carries the next of the tokens; threads start at
-- different places in the list.
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local i = 0
function init(args)
	math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
	i = math.random(#tokens)
end
function request()
	i = i % #tokens + 1
	return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tokens[i] })
end
LUA
}

# bench_rounds <rounds> <pattern>: runs the Go benchmarks matching pattern
# in $work/bench.test, round after round, and prints their result lines.
bench_rounds() {
	for _ in $(seq "$1"); do
		"$work/bench.test" -test.run '^$' -test.bench "$2" -test.benchmem 2>/dev/null | grep '^Benchmark'
	done
}

# write_bench_results <out>: writes the summary ($work/summary.txt) and the
# raw benchmark lines ($work/raw.txt) to out, and prints the summary.
write_bench_results() {
	{
		cat "$work/summary.txt"
		echo
		echo "# raw benchmark output"
		grep '^Benchmark' "$work/raw.txt"
	} >"$1"
	cat "$work/summary.txt"
}

# gobench_summary <file>: the summary of bench/gobench.sh output.
gobench_summary() {
	awk -f bench/medians.awk -f bench/gobench.awk "$@"
}
