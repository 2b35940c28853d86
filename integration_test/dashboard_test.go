package integration_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// grafanaDashboard is the part of the dashboard JSON the checks read.
type grafanaDashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Panels     []grafanaPanel
	Templating struct {
		List []struct {
			Name       string             `json:"name"`
			Type       string             `json:"type"`
			Query      json.RawMessage    `json:"query"`
			Datasource *grafanaDatasource `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type grafanaPanel struct {
	Title      string             `json:"title"`
	Datasource *grafanaDatasource `json:"datasource"`
	Targets    []struct {
		Expr       string             `json:"expr"`
		Datasource *grafanaDatasource `json:"datasource"`
	} `json:"targets"`
}

type grafanaDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func readDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(monitoringDir(), "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	return d
}

// The dashboard imports as is: every panel and query reads the data
// source chosen in its `datasource` variable, so no Grafana needs a data
// source with a particular name or uid.
func TestMonitoringDashboardUsesADatasourceVariable(t *testing.T) {
	t.Parallel()
	d := readDashboard(t)
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard: title %q, uid %q, %d panels", d.Title, d.UID, len(d.Panels))
	}
	variable := false
	for _, v := range d.Templating.List {
		variable = variable || (v.Name == "datasource" && v.Type == "datasource" && string(v.Query) == `"prometheus"`)
	}
	if !variable {
		t.Fatal(`dashboard has no variable "datasource" of type datasource for Prometheus`)
	}
	want := grafanaDatasource{Type: "prometheus", UID: "${datasource}"}
	for _, p := range d.Panels {
		if p.Datasource == nil || *p.Datasource != want {
			t.Errorf("panel %q: datasource %+v, want %+v", p.Title, p.Datasource, want)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if q.Datasource == nil || *q.Datasource != want || q.Expr == "" {
				t.Errorf("panel %q: query %q with datasource %+v", p.Title, q.Expr, q.Datasource)
			}
		}
	}
}

// labelValues is Grafana's variable query label_values(<metric>, <label>).
var labelValues = regexp.MustCompile(`^label_values\((\w+),\s*(\w+)\)$`)

// checkDashboardQueries runs every query of the dashboard against a
// Prometheus that scrapes a Caddy under traffic: each must return at least
// one finite sample. Grafana's variables become what Grafana would put
// there: $__rate_interval the tests' window, $instance "All" (.*).
func checkDashboardQueries(t *testing.T, prom *prometheusServer) {
	d := readDashboard(t)
	grafana := strings.NewReplacer("$__rate_interval", testWindow, "$instance", ".*")
	queries := 0
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			expr := grafana.Replace(q.Expr)
			if strings.Contains(expr, "$") {
				t.Errorf("panel %q: query %q uses a variable this check does not know", p.Title, q.Expr)
				continue
			}
			prom.awaitQuery(t, expr, alertDeadline)
			queries++
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("variable %s: query %s: %v", v.Name, v.Query, err)
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(<metric>, <label>)", v.Name, q.Query)
			continue
		}
		for _, s := range prom.awaitQuery(t, "count by ("+m[2]+") ("+m[1]+")", alertDeadline) {
			if s.Labels[m[2]] == "" {
				t.Errorf("variable %s: %s has a series without %s", v.Name, m[1], m[2])
			}
		}
	}
	if queries < 7 {
		t.Errorf("the dashboard has %d queries, want at least one per panel of the README", queries)
	}
}
