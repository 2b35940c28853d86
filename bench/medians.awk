# What the bench summaries share (loaded with awk -f before the summary's
# own program): medians over the rounds and, for Go benchmark output, each
# benchmark line's values collected per benchmark name and unit. Comment
# lines are printed as they are.

# median_of is the median of the space-separated numbers in list.
function median_of(list,   n, i, j, t, a) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
# median is the median of the values collected for key (see collect).
function median(key) { return median_of(vals[key]) }
# collect appends the current benchmark line's values to vals[name ",wall"]
# (ns/op), ",cpu" (cpu-ns/op), ",allocs", ",bytes" (B/op) and ",heap"
# (heap-bytes/10k-tokens), and keeps names in order of first appearance.
function collect(name,   i) {
	if (!(name in seen)) { order[++count] = name; seen[name] = 1 }
	for (i = 3; i < NF; i++) {
		if ($(i+1) == "ns/op") vals[name ",wall"] = vals[name ",wall"] " " $i
		if ($(i+1) == "cpu-ns/op") vals[name ",cpu"] = vals[name ",cpu"] " " $i
		if ($(i+1) == "allocs/op") vals[name ",allocs"] = vals[name ",allocs"] " " $i
		if ($(i+1) == "B/op") vals[name ",bytes"] = vals[name ",bytes"] " " $i
		if ($(i+1) == "heap-bytes/10k-tokens") vals[name ",heap"] = vals[name ",heap"] " " $i
	}
}
/^#/ { print; next }
