package verify

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader"
	"helm.sh/helm/v4/pkg/engine"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// chartDir is the Helm chart, relative to the repository root.
var chartDir = filepath.Join("deploy", "helm", "rotator")

// renderChart renders the chart with Helm's own packages (what `helm
// template` and `helm install` run), in strict mode (a template that
// reads a value the chart does not define fails), with the values given as
// YAML over the chart's defaults, and decodes every object strictly into
// its API type. Secrets are returned apart.
func renderChart(t *testing.T, release, values string) (manifests, map[string]*corev1.Secret) {
	t.Helper()
	out, err := renderChartYAML(t, release, values)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	var rest bytes.Buffer
	secrets := map[string]*corev1.Secret{}
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatal(err)
		}
		if tm.APIVersion == "v1" && tm.Kind == "Secret" {
			s := &corev1.Secret{}
			if err := yaml.UnmarshalStrict(doc, s); err != nil {
				t.Errorf("Secret: %v", err)
			}
			secrets[s.Name] = s
			continue
		}
		rest.Write(doc)
		rest.WriteString("\n---\n")
	}
	return decodeAll(t, rest.Bytes()), secrets
}

func renderChartYAML(t *testing.T, release, values string) ([]byte, error) {
	t.Helper()
	chrt, err := loader.Load(filepath.Join(repoRoot(t), chartDir))
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(values), &vals); err != nil {
		t.Fatalf("values: %v", err)
	}
	top, err := util.ToRenderValues(chrt, vals, common.ReleaseOptions{Name: release, Namespace: "rotator", IsInstall: true}, common.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	files, err := engine.Engine{Strict: true}.RenderWithContext(context.Background(), chrt, top)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		if strings.HasSuffix(n, ".yaml") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		if strings.TrimSpace(stripComments(files[n])) == "" {
			continue
		}
		b.WriteString(files[n])
		b.WriteString("\n---\n")
	}
	return b.Bytes(), nil
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

const existingSecret = "credentials: {existingSecret: rotator-credentials}\n"

// TestHelmDaemon renders the chart as a daemon with monitoring and the
// NetworkPolicy on, and checks it like the kustomize base: the pod, its
// volumes and the policy's paths, the Service, ServiceMonitor and rules.
func TestHelmDaemon(t *testing.T) {
	m, secrets := renderChart(t, "rotator", existingSecret+`
serviceMonitor: {enabled: true, labels: {release: kube-prometheus-stack}}
prometheusRule: {enabled: true, labels: {release: kube-prometheus-stack}}
networkPolicy: {enabled: true}
`)
	if len(m.deployments) != 1 || len(m.services) != 1 || len(m.serviceMonitors) != 1 || len(m.prometheusRules) != 1 ||
		len(m.configMaps) != 1 || len(m.pvcs) != 1 || len(m.serviceAccounts) != 1 || len(m.cronJobs) != 0 ||
		len(m.networkPolicies) != 1 || len(secrets) != 0 {
		t.Fatalf("unexpected set of objects: %+v, secrets %v", m, secrets)
	}
	d := m.deployments["rotator"]
	if d == nil {
		t.Fatal("no Deployment rotator")
	}
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != "Recreate" {
		t.Errorf("Deployment: replicas %d strategy %q, want 1 and Recreate", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	checkPod(t, m, "Deployment", d.Spec.Template.Spec)
	c := d.Spec.Template.Spec.Containers[0]
	if c.Image != "ghcr.io/rotator-dev/rotator:v0.1.0" {
		t.Errorf("image %q, want the pinned ghcr.io/rotator-dev/rotator:v0.1.0 (the chart's appVersion)", c.Image)
	}
	if d.Spec.Template.Annotations["checksum/policy"] == "" {
		t.Error("no checksum/policy annotation: a policy change would not roll the pod")
	}

	svc := m.services["rotator"]
	if svc == nil || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Fatalf("Service %+v does not select the Deployment's pods %v", svc, d.Spec.Template.Labels)
	}
	sm := m.serviceMonitors["rotator"]
	smSel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil || !smSel.Matches(labels.Set(svc.Labels)) {
		t.Errorf("ServiceMonitor selector %v does not select the Service (labels %v)", sm.Spec.Selector, svc.Labels)
	}
	if svc.Labels[sm.Spec.JobLabel] != "rotator" || sm.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("ServiceMonitor: job %q (want rotator, the rules select it), labels %v", svc.Labels[sm.Spec.JobLabel], sm.Labels)
	}

	// The rules are deploy/prometheus/rules.yml.
	var spec monitoringv1.PrometheusRuleSpec
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "prometheus", "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(src, &spec); err != nil {
		t.Fatal(err)
	}
	a, _ := yaml.Marshal(spec)
	b, _ := yaml.Marshal(m.prometheusRules["rotator"].Spec)
	if !bytes.Equal(a, b) {
		t.Errorf("the chart's PrometheusRule differs from deploy/prometheus/rules.yml:\n%s", b)
	}

	np := m.networkPolicies["rotator"]
	npSel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil || !npSel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("NetworkPolicy podSelector %v does not select the pod %v", np.Spec.PodSelector, d.Spec.Template.Labels)
	}
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].Ports) != 1 || np.Spec.Ingress[0].Ports[0].Port.StrVal != "metrics" {
		t.Errorf("NetworkPolicy ingress %+v, want the metrics port only", np.Spec.Ingress)
	}
	checkObjects(t, m)
}

// TestHelmRunNow renders the CronJob variant with inline credentials and
// another release name: same pod checks, no daemon objects, and the
// Secret the chart creates holds exactly the inline files.
func TestHelmRunNow(t *testing.T) {
	m, secrets := renderChart(t, "mail", `
mode: run-now
image: {tag: v0.1.1}
credentials: {inline: {smtpd-password: not-a-real-password}}
serviceMonitor: {enabled: true}
prometheusRule: {enabled: true}
`)
	if len(m.cronJobs) != 1 || len(m.deployments) != 0 || len(m.services) != 0 || len(m.serviceMonitors) != 0 ||
		len(m.prometheusRules) != 0 || len(secrets) != 1 {
		t.Fatalf("unexpected set of objects: %+v, secrets %v", m, secrets)
	}
	cj := m.cronJobs["mail-rotator-run-now"]
	if cj == nil {
		t.Fatalf("no CronJob mail-rotator-run-now: %v", m.cronJobs)
	}
	ps := cj.Spec.JobTemplate.Spec.Template.Spec
	if cj.Spec.ConcurrencyPolicy != "Forbid" || ps.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("CronJob: concurrencyPolicy %q restartPolicy %q, want Forbid and Never", cj.Spec.ConcurrencyPolicy, ps.RestartPolicy)
	}
	if args := strings.Join(ps.Containers[0].Args, " "); !strings.Contains(args, "--run-now --due-only") {
		t.Errorf("CronJob args %q lack --run-now --due-only", args)
	}
	if ps.Containers[0].Image != "ghcr.io/rotator-dev/rotator:v0.1.1" {
		t.Errorf("image %q: image.tag did not apply", ps.Containers[0].Image)
	}
	s := secrets["mail-rotator-credentials"]
	if s == nil || string(s.Data["smtpd-password"]) != "not-a-real-password" || len(s.Data) != 1 {
		t.Fatalf("credentials Secret %+v", s)
	}
	if ps.Volumes[1].Secret == nil || ps.Volumes[1].Secret.SecretName != s.Name {
		t.Errorf("the pod does not mount the chart's Secret %s: %+v", s.Name, ps.Volumes)
	}
	for _, o := range objects(m) {
		if !strings.HasPrefix(o.GetName(), "mail-rotator") {
			t.Errorf("%s is not named after the release", o.GetName())
		}
	}
}

// TestHelmRefusesMissingCredentials: without a Secret the pod could not
// start; the chart says what to set instead of rendering a broken pod.
func TestHelmRefusesMissingCredentials(t *testing.T) {
	for values, want := range map[string]string{
		"":                              "set credentials.existingSecret",
		existingSecret + "mode: cron\n": `mode "cron": want daemon or run-now`,
	} {
		_, err := renderChartYAML(t, "rotator", values)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("values %q: error %v, want one containing %q", values, err, want)
		}
	}
}

// TestHelmRulesCopy keeps the chart's copy of the rules identical to
// deploy/prometheus/rules.yml (a chart cannot read files outside itself).
func TestHelmRulesCopy(t *testing.T) {
	root := repoRoot(t)
	want, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, chartDir, "files", "rules.yml")
	if *update {
		if err := os.WriteFile(file, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("deploy/helm/rotator/files/rules.yml differs from deploy/prometheus/rules.yml: run\n  cd deploy/verify && go test -run TestHelmRulesCopy -update")
	}
}
