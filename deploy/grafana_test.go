package deploy

import (
	"encoding/json"
	"strings"
	"testing"
)

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos *struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal([]byte(readFile(t, "grafana/rotator-dashboard.json")), &d); err != nil {
		t.Fatalf("grafana/rotator-dashboard.json: %v", err)
	}
	return d
}

// allPanels flattens rows.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// dashboardExprs returns every query of the dashboard, panels' and
// variables', by where it is.
func dashboardExprs(t *testing.T, d dashboard) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			out[p.Title+"/"+tg.RefID] = tg.Expr
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
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		out["$"+v.Name] = q.Query
	}
	return out
}

// expandVariables replaces Grafana's variables with values Prometheus
// accepts, to evaluate the queries outside Grafana.
func expandVariables(expr string) string {
	expr = strings.NewReplacer("$__rate_interval", "1m", "$__interval", "15s", "$__range", "1h",
		"$instance", ".*", "$key", ".*").Replace(expr)
	// label_values(sel, label) is Grafana's, not PromQL: query sel.
	if s, ok := strings.CutPrefix(expr, "label_values("); ok {
		expr = s[:strings.LastIndex(s, ",")]
	}
	return expr
}

func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard needs a uid and a title")
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	for _, v := range []string{"datasource", "instance", "key"} {
		if !vars[v] {
			t.Errorf("no $%s variable", v)
		}
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range allPanels(d.Panels) {
		if ids[p.ID] {
			t.Errorf("panel %q: duplicate id %d", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: bad gridPos %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource is not ${datasource}", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no query", p.Title)
		}
	}
	for where, expr := range dashboardExprs(t, d) {
		if strings.TrimSpace(expr) == "" {
			t.Errorf("%s: empty query", where)
		}
		if bad := unknownMetrics(expr); len(bad) > 0 {
			t.Errorf("%s: uses metrics the daemon does not export: %q", where, bad)
		}
		for _, name := range referencedMetrics(expr) {
			used[family(name)] = true
		}
		if strings.Contains(expr, "rotator_") && !strings.Contains(expr, `job="rotator"`) {
			t.Errorf("%s: query does not select job=\"rotator\": %s", where, expr)
		}
	}
	// What the issue asks the dashboard to show.
	for _, m := range []string{
		"rotator_key_created_timestamp_seconds", "rotator_next_rotation_timestamp_seconds",
		"rotator_last_rotation_success_timestamp_seconds", "rotator_key_consecutive_failures",
		"rotator_rotations_total", "rotator_pending_revocations", "rotator_keepalives_total",
		"rotator_last_keepalive_success_timestamp_seconds", "rotator_provider_requests_total",
	} {
		if !used[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
}

// TestMonitoringDocsListEveryMetric keeps docs/monitoring.md complete: the
// end-to-end test checks that knownMetrics is what the daemon exports.
func TestMonitoringDocsListEveryMetric(t *testing.T) {
	docs := readFile(t, "../docs/monitoring.md")
	for m := range knownMetrics {
		if m != "up" && !strings.Contains(docs, "`"+m+"`") {
			t.Errorf("docs/monitoring.md does not list %s", m)
		}
	}
}
