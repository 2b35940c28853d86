# Summary of bench/gobench.sh output: medians per benchmark, the handler's
# own cost (minus the no-plugin chain) and the issue's target ratios. Run
# after bench/medians.awk: awk -f bench/medians.awk -f bench/gobench.awk FILE.
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
	collect(name)
}
END {
	printf "\n%-32s %12s %12s %8s %9s\n", "benchmark (median)", "wall ns/op", "cpu ns/op", "B/op", "allocs/op"
	for (k = 1; k <= count; k++) {
		n = order[k]
		if ((n ",cpu") in vals)
			printf "%-32s %12.0f %12.0f %8.0f %9.0f\n", n, median(n ",wall"), median(n ",cpu"), median(n ",bytes"), median(n ",allocs")
	}
	baseAllocs = median("ServeHTTP/no_plugin,allocs")
	split("HS256 RS256 ES256 EdDSA", algs, " ")
	split("wall cpu", metrics, " ")
	for (m = 1; m <= 2; m++) {
		t = metrics[m]; base = median("ServeHTTP/no_plugin," t)
		printf "\nhandler %s ns = benchmark - ServeHTTP/no_plugin (the same chain and request without the jwt handler)\n", t
		printf "%-6s %10s %10s %10s %10s %10s %10s %10s\n", "alg", "raw", "miss", "miss/raw", "hit", "malformed", "malf/miss", "bad sig"
		for (k = 1; k <= 4; k++) {
			a = algs[k]
			raw = median("RawVerify/" a "," t); miss = median("ServeHTTP/" a "/miss," t) - base
			malformed = median("ServeHTTP/" a "/malformed," t) - base
			printf "%-6s %10.0f %10.0f %9.2fx %10.0f %10.0f %9.3fx %10.0f\n", a, raw, miss, miss / raw,
				median("ServeHTTP/" a "/cached," t) - base, malformed, malformed / miss, median("ServeHTTP/" a "/bad_signature," t) - base
			ratio[a, t] = miss / raw; malf[a, t] = malformed / miss
		}
	}
	print "\ntargets (wall-clock ns/op | CPU time)"
	printf "cache miss <= 1.25x raw verify:   ES256 %.2fx | %.2fx, RS256 %.2fx | %.2fx\n", ratio["ES256", "wall"], ratio["ES256", "cpu"], ratio["RS256", "wall"], ratio["RS256", "cpu"]
	printf "malformed <= 0.05x ES256 miss:    %.3fx | %.3fx\n", malf["ES256", "wall"], malf["ES256", "cpu"]
	printf "cache hit <= 8 allocs/request:    %d (every algorithm: ", median("ServeHTTP/ES256/cached,allocs") - baseAllocs
	for (k = 1; k <= 4; k++) printf "%s%d", (k > 1 ? ", " : ""), median("ServeHTTP/" algs[k] "/cached,allocs") - baseAllocs
	print ")"
	if (("CacheMemory,heap") in vals)
		printf "10,000 cached tokens < 20 MB:     %.1f MB (typical ES256 access tokens, 11 claims)\n", median("CacheMemory,heap") / 1e6
}