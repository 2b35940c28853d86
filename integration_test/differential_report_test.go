package integration_test

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
)

// How the differential test reports what it saw: a table of the variants
// that broke a rule, and the statuses of every upstream.

// readSummary says which users' tokens the upstream read where.
func (o *outcome) readSummary() string {
	if o.report == nil {
		return "-"
	}
	var parts []string
	for l, read := range o.report.tokens() {
		var subs []string
		for _, tok := range read {
			if tok.isToken() {
				subs = append(subs, tok.Sub)
			}
		}
		if len(subs) > 0 {
			parts = append(parts, location(l).String()+":"+strings.Join(subs, ","))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " ")
}

// findingTable lays the findings out one line per variant and config (at
// most 150): the status and the user jwt authenticated, what each upstream
// read (marked ! where that broke a rule) and the first problem; then the
// requests of those variants, with the tokens named V and F.
func (d *differential) findingTable(findings []finding, outcomes []outcome) string {
	type row struct {
		v   *variant
		cfg string
	}
	var rows []row
	problems := map[row][]finding{}
	for _, f := range findings {
		r := row{f.o.v, f.o.cfg.name}
		if problems[r] == nil {
			rows = append(rows, r)
		}
		problems[r] = append(problems[r], f)
	}
	at := map[row]map[string]outcome{}
	for _, o := range outcomes {
		r := row{o.v, o.cfg.name}
		if problems[r] != nil {
			if at[r] == nil {
				at[r] = map[string]outcome{}
			}
			at[r][o.up] = o
		}
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	fmt.Fprintf(w, "VARIANT\tCONFIG\tSTATUS\tJWT USER\t%s\tFIRST PROBLEM\n", strings.ToUpper(strings.Join(differentialUpstreams, "\t")))
	var shown []*variant
	for i, r := range rows {
		if i == 150 {
			fmt.Fprintf(w, "… and %d more\n", len(rows)-150)
			break
		}
		if len(shown) == 0 || shown[len(shown)-1] != r.v {
			shown = append(shown, r.v)
		}
		failed := map[string]bool{}
		for _, f := range problems[r] {
			failed[f.o.up] = true
		}
		var statuses, reads []string
		first := at[r][differentialUpstreams[0]]
		for _, up := range differentialUpstreams {
			o := at[r][up]
			statuses = append(statuses, strconv.Itoa(o.status))
			mark := ""
			if failed[up] {
				mark = "!"
			}
			reads = append(reads, mark+o.readSummary())
		}
		status := statuses[0]
		if len(slices.Compact(slices.Clone(statuses))) > 1 {
			status = strings.Join(statuses, "/")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%q\t%s\t%s\n", r.v.name, r.cfg, status, first.seen, strings.Join(reads, "\t"), problems[r][0].problem)
	}
	w.Flush()
	b.WriteString("\nrequests of the variants above (V: alice's token, F: admin's forged one):\n")
	for _, v := range shown {
		b.WriteString("  " + d.describe(v) + "\n")
	}
	return b.String()
}

// describe shows a variant's request with the tokens named V and F.
func (d *differential) describe(v *variant) string {
	names := strings.NewReplacer(
		d.valid, "V", d.forged, "F", d.valid[1:], "V[1:]", d.forged[1:], "F[1:]",
		percentEveryByte(d.valid), "%V", percentEveryByte(d.forged), "%F")
	s := fmt.Sprintf("%s: %s ?%q", v.name, v.method, names.Replace(v.query))
	for _, l := range v.lines {
		s += fmt.Sprintf(" | %s: %q", l.name, names.Replace(l.value))
	}
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// logStatusCounts logs how many requests each upstream answered per
// status, so a run that refused everything shows as such.
func logStatusCounts(t *testing.T, outcomes []outcome) {
	counts := map[string]map[int]int{}
	for _, o := range outcomes {
		key := o.cfg.name + "/" + o.up
		if counts[key] == nil {
			counts[key] = map[int]int{}
		}
		counts[key][o.status]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%s: statuses %v", k, counts[k])
	}
}
