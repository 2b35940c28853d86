# Summary of bench/redis.sh output: medians per revocation store and their
# CPU time relative to no revocation. Run after bench/medians.awk.
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^BenchmarkRedisRevocation\//, "", name)
	collect(name)
}
END {
	printf "\n%-10s %12s %12s %9s %14s\n", "revocation", "wall ns/op", "cpu ns/op", "allocs/op", "cpu ratio"
	base = median("none,cpu")
	for (k = 1; k <= count; k++) {
		n = order[k]
		printf "%-10s %12.0f %12.0f %9.0f %13.2fx\n", n, median(n ",wall"), median(n ",cpu"), median(n ",allocs"), median(n ",cpu") / base
	}
}
