package verify

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"sigs.k8s.io/yaml"
)

// prometheusRuleFile is deploy/kubernetes/prometheusrule.yaml as generated
// from deploy/prometheus/rules.yml: the groups, indented under spec.
func prometheusRuleFile(t testing.TB) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "prometheus", "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(src), "\n"), "\n")
	for len(lines) > 0 && (strings.HasPrefix(lines[0], "#") || lines[0] == "") {
		lines = lines[1:]
	}
	var b strings.Builder
	b.WriteString(`# Generated from deploy/prometheus/rules.yml: do not edit; edit rules.yml and run
#   cd deploy/verify && go test -run TestPrometheusRuleMatchesRulesFile -update
# Your Prometheus may only load PrometheusRules with a given label
# (kube-prometheus-stack: release: <release name>): add it in an overlay.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: rotator
  labels:
    app.kubernetes.io/name: rotator
spec:
`)
	for _, l := range lines {
		if l != "" {
			b.WriteString("  ")
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

// TestPrometheusRuleMatchesRulesFile keeps one source for the alerts: the
// PrometheusRule is rules.yml under spec, byte for byte, and decodes to the
// same rule groups.
func TestPrometheusRuleMatchesRulesFile(t *testing.T) {
	file := filepath.Join(repoRoot(t), "deploy", "kubernetes", "prometheusrule.yaml")
	want := prometheusRuleFile(t)
	if *update {
		if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("deploy/kubernetes/prometheusrule.yaml is not generated from deploy/prometheus/rules.yml: run\n  cd deploy/verify && go test -run TestPrometheusRuleMatchesRulesFile -update")
	}

	var spec monitoringv1.PrometheusRuleSpec
	src, _ := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "prometheus", "rules.yml"))
	if err := yaml.UnmarshalStrict(src, &spec); err != nil {
		t.Fatalf("rules.yml does not decode as a PrometheusRule spec: %v", err)
	}
	pr := render(t, ".").prometheusRules["rotator"]
	if pr == nil {
		t.Fatal("no PrometheusRule rotator in the rendered base")
	}
	a, _ := yaml.Marshal(spec)
	b, _ := yaml.Marshal(pr.Spec)
	if !bytes.Equal(a, b) {
		t.Errorf("rendered PrometheusRule differs from rules.yml:\n%s\nvs\n%s", b, a)
	}
	if n := len(spec.Groups); n == 0 || len(spec.Groups[0].Rules) == 0 {
		t.Errorf("no rules")
	}
}
