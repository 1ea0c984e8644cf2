package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	var rf ruleFile
	dec := yaml.NewDecoder(strings.NewReader(readFile(t, "prometheus/rules.yml")))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("prometheus/rules.yml: %v", err)
	}
	return rf
}

func alerts(rf ruleFile) []rule {
	var out []rule
	for _, g := range rf.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool := requireTool(t, "promtool", "prometheus")
	out, err := exec.Command(promtool, "check", "rules", "prometheus/rules.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	want := fmt.Sprintf("SUCCESS: %d rules found", len(alerts(loadRules(t))))
	if !strings.Contains(string(out), want) {
		t.Fatalf("promtool check rules printed\n%s\nwant %q", out, want)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	promtool := requireTool(t, "promtool", "prometheus")
	cmd := exec.Command(promtool, "test", "rules", "rules_test.yml")
	cmd.Dir = "prometheus"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestPromtoolTestsCanFail breaks each alert in two ways, one at a time,
// and requires `promtool test rules` to notice: with an expr that never
// fires, the alert's firing cases fail; with an expr that fires at once
// (for: 0s), its not-firing cases alone fail. This proves that every rule
// has both kinds of case and that promtool evaluates them.
func TestPromtoolTestsCanFail(t *testing.T) {
	promtool := requireTool(t, "promtool", "prometheus")
	for _, r := range alerts(loadRules(t)) {
		for _, m := range []struct {
			name, expr  string
			firingCases bool
		}{
			{"never fires", "vector(1) < 0", true},
			{"fires at once", "vector(1)", false},
		} {
			t.Run(r.Alert+"/"+m.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				writeFile(t, filepath.Join(dir, "rules.yml"), mutateRule(t, readFile(t, "prometheus/rules.yml"), r.Alert, m.expr))
				writeFile(t, filepath.Join(dir, "rules_test.yml"), filterCases(t, readFile(t, "prometheus/rules_test.yml"), r.Alert, m.firingCases))
				cmd := exec.Command(promtool, "test", "rules", "rules_test.yml")
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				if err == nil {
					t.Fatalf("promtool test rules passed with %s's expr replaced by %q: its tests cannot fail\n%s", r.Alert, m.expr, out)
				}
				if !strings.Contains(string(out), "alertname: "+r.Alert) {
					t.Fatalf("promtool failed, but not on %s:\n%s", r.Alert, out)
				}
			})
		}
	}
}

// filterCases keeps only the alert's firing (or only its not-firing)
// cases of a promtool test file.
func filterCases(t *testing.T, src, alert string, firing bool) string {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, tc := range doc["tests"].([]any) {
		tc := tc.(map[string]any)
		var cases []any
		for _, c := range tc["alert_rule_test"].([]any) {
			c := c.(map[string]any)
			exp, _ := c["exp_alerts"].([]any)
			if c["alertname"] == alert && (len(exp) > 0) == firing {
				cases = append(cases, c)
			}
		}
		if len(cases) > 0 {
			tc["alert_rule_test"] = cases
			kept = append(kept, tc)
		}
	}
	if len(kept) == 0 {
		t.Fatalf("rules_test.yml has no case where %s fires=%v", alert, firing)
	}
	doc["tests"] = kept
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// mutateFor returns the rule file with the named alert's for: replaced.
func mutateFor(t *testing.T, src, alert, d string) string {
	t.Helper()
	return editRule(t, src, alert, func(key string, v *yaml.Node) {
		if key == "for" {
			v.Value = d
		}
	})
}

// editRule applies edit to every field of the named alert.
func editRule(t *testing.T, src, alert string, edit func(key string, v *yaml.Node)) string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "alert" && n.Content[i+1].Value == alert {
					found = true
					for j := 0; j+1 < len(n.Content); j += 2 {
						edit(n.Content[j].Value, n.Content[j+1])
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	if !found {
		t.Fatalf("alert %s not found", alert)
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// mutateRule returns the rule file with the named alert's expr replaced
// and its for: set to 0s.
func mutateRule(t *testing.T, src, alert, expr string) string {
	t.Helper()
	return editRule(t, src, alert, func(key string, v *yaml.Node) {
		switch key {
		case "expr":
			v.Value, v.Style = expr, 0
		case "for":
			v.Value = "0s"
		}
	})
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runbookURLBase is where the alerts' runbook_url annotations point.
const runbookURLBase = "https://github.com/rotator-dev/rotator/blob/main/docs/monitoring.md#"

// TestRulesContract checks what promtool does not: every alert has a
// severity, a summary, a description, a runbook and a runbook_url that point
// at its section of docs/monitoring.md, uses only the daemon's metrics, and has
// both a firing and a not-firing case in rules_test.yml.
func TestRulesContract(t *testing.T) {
	var tf struct {
		Tests []struct {
			Name          string `yaml:"name"`
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, "prometheus/rules_test.yml")), &tf); err != nil {
		t.Fatal(err)
	}
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tf.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	docs := readFile(t, filepath.Join(repoRoot(t), "docs", "monitoring.md"))
	seen := map[string]bool{}
	rf := loadRules(t)
	if len(alerts(rf)) == 0 {
		t.Fatal("no rules")
	}
	for _, r := range alerts(rf) {
		if r.Alert == "" {
			t.Errorf("recording rule %q: this file holds alerts only", r.Record)
			continue
		}
		if seen[r.Alert] {
			t.Errorf("%s: defined twice", r.Alert)
		}
		seen[r.Alert] = true
		if s := r.Labels["severity"]; s != "warning" && s != "critical" {
			t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
		}
		for _, a := range []string{"summary", "description", "runbook"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s: no %s annotation", r.Alert, a)
			}
		}
		anchor := "docs/monitoring.md#" + strings.ToLower(r.Alert)
		if !strings.Contains(r.Annotations["runbook"], anchor) {
			t.Errorf("%s: runbook does not point at %s", r.Alert, anchor)
		}
		if !regexp.MustCompile(`(?m)^#+ ` + r.Alert + `$`).MatchString(docs) {
			t.Errorf("%s: docs/monitoring.md has no heading %q", r.Alert, r.Alert)
		}
		// runbook_url is the Prometheus convention Alertmanager templates
		// and Grafana link to: docs/monitoring.md's section for the alert.
		if url, want := r.Annotations["runbook_url"], runbookURLBase+strings.ToLower(r.Alert); url != want {
			t.Errorf("%s: runbook_url %q, want %q", r.Alert, url, want)
		}
		if _, frag, _ := strings.Cut(r.Annotations["runbook_url"], "#"); !markdownAnchors(docs)[frag] {
			t.Errorf("%s: runbook_url's anchor #%s is not a heading of docs/monitoring.md", r.Alert, frag)
		}
		if bad := unknownMetrics(r.Expr); len(bad) > 0 {
			t.Errorf("%s: uses metrics the daemon does not export: %q", r.Alert, bad)
		}
		if !firing[r.Alert] {
			t.Errorf("%s: rules_test.yml has no case where it fires", r.Alert)
		}
		if !quiet[r.Alert] {
			t.Errorf("%s: rules_test.yml has no case where it stays quiet", r.Alert)
		}
	}
	for name := range firing {
		if !seen[name] {
			t.Errorf("rules_test.yml tests %s, which rules.yml does not define", name)
		}
	}
}
