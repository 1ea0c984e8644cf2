package verify

import (
	"flag"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite deploy/kubernetes/prometheusrule.yaml from deploy/prometheus/rules.yml")

// manifests is one kustomization rendered and decoded.
type manifests struct {
	serviceAccounts map[string]*corev1.ServiceAccount
	configMaps      map[string]*corev1.ConfigMap
	pvcs            map[string]*corev1.PersistentVolumeClaim
	services        map[string]*corev1.Service
	deployments     map[string]*appsv1.Deployment
	cronJobs        map[string]*batchv1.CronJob
	serviceMonitors map[string]*monitoringv1.ServiceMonitor
	prometheusRules map[string]*monitoringv1.PrometheusRule
	networkPolicies map[string]*networkingv1.NetworkPolicy
	pdbs            map[string]*policyv1.PodDisruptionBudget
}

// render builds a kustomization with kustomize's own library (what
// `kubectl apply -k` runs) and decodes every object strictly into its API
// type: an unknown or misspelt field, a duplicate field or a kind this
// deployment does not expect is an error.
func render(t testing.TB, dir string) manifests {
	t.Helper()
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(repoRoot(t), "deploy", "kubernetes", dir)
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := rm.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return decodeAll(t, out)
}

func name(doc []byte) string {
	var o struct {
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	_ = yaml.Unmarshal(doc, &o)
	return o.Metadata.Name
}

// policy is the part of the rotation policy that the pod spec must match.
type policy struct {
	Listen string `json:"listen"`
	State  struct {
		Path string `json:"path"`
	} `json:"state"`
	Providers map[string]map[string]any `json:"providers"`
	Sinks     map[string]map[string]any `json:"sinks"`
}

// checkPod checks a pod template against the other objects: the service
// account, the ConfigMap and its key, the PVC, the policy's paths and
// port, and the security settings.
func checkPod(t *testing.T, m manifests, what string, spec corev1.PodSpec) {
	t.Helper()
	if spec.ServiceAccountName == "" || m.serviceAccounts[spec.ServiceAccountName] == nil {
		t.Errorf("%s: serviceAccountName %q is not in the manifests", what, spec.ServiceAccountName)
	}
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod securityContext %+v, want runAsNonRoot, runAsUser 65532 (the image's nonroot) and seccomp RuntimeDefault", what, psc)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", what, len(spec.Containers))
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("%s: container securityContext %+v, want no privilege escalation, read-only root, drop ALL", what, sc)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("%s: no %s request", what, r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("%s: no %s limit", what, r)
		}
	}
	if !strings.Contains(c.Image, "/rotator:") {
		t.Errorf("%s: image %q", what, c.Image)
	}
	if len(c.Args) < 2 || c.Args[0] != "--config" || c.Args[1] != "/etc/rotator/rotator.yaml" {
		t.Errorf("%s: args %q, want --config /etc/rotator/rotator.yaml first", what, c.Args)
	}

	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]corev1.VolumeMount{} // by mount path
	var cm *corev1.ConfigMap
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = vm
		v, ok := volumes[vm.Name]
		if !ok {
			t.Errorf("%s: volumeMount %q has no volume", what, vm.Name)
			continue
		}
		switch {
		case v.ConfigMap != nil:
			cm = m.configMaps[v.ConfigMap.Name]
			if cm == nil {
				t.Errorf("%s: volume %q: ConfigMap %q is not in the manifests", what, v.Name, v.ConfigMap.Name)
			} else if _, ok := cm.Data[vm.SubPath]; vm.SubPath != "" && !ok {
				t.Errorf("%s: mount %s: ConfigMap %s has no key %q", what, vm.MountPath, cm.Name, vm.SubPath)
			}
		case v.PersistentVolumeClaim != nil:
			if m.pvcs[v.PersistentVolumeClaim.ClaimName] == nil {
				t.Errorf("%s: volume %q: PVC %q is not in the manifests", what, v.Name, v.PersistentVolumeClaim.ClaimName)
			}
		}
	}
	used := map[string]bool{}
	for _, vm := range c.VolumeMounts {
		used[vm.Name] = true
	}
	for n := range volumes {
		if !used[n] {
			t.Errorf("%s: volume %q is never mounted", what, n)
		}
	}
	cfg, ok := mounts["/etc/rotator/rotator.yaml"]
	if !ok || cm == nil || cfg.SubPath == "" {
		t.Fatalf("%s: /etc/rotator/rotator.yaml is not mounted from the ConfigMap", what)
	}
	if s := volumes["credentials"].Secret; s == nil || s.SecretName != "rotator-credentials" {
		t.Errorf("%s: no credentials volume from Secret rotator-credentials (docs/deploying.md tells operators to create it)", what)
	}

	// The policy's paths must land on the right volumes.
	// Only the fields above are known here: decode leniently (the
	// end-to-end test runs `rotator --check-config` on the policy).
	var p policy
	if err := yaml.Unmarshal([]byte(cm.Data[cfg.SubPath]), &p); err != nil {
		t.Fatalf("%s: policy: %v", what, err)
	}
	mountOf := func(file string) (corev1.VolumeMount, bool) {
		best := corev1.VolumeMount{}
		for mp, vm := range mounts {
			if (file == mp || strings.HasPrefix(file, mp+"/")) && len(mp) > len(best.MountPath) {
				best = vm
			}
		}
		return best, best.MountPath != ""
	}
	if vm, ok := mountOf(p.State.Path); !ok || vm.ReadOnly || volumes[vm.Name].PersistentVolumeClaim == nil {
		t.Errorf("%s: state.path %q is not on a writable PersistentVolumeClaim", what, p.State.Path)
	}
	for name, s := range p.Sinks {
		if s["type"] == "file" {
			dir, _ := s["dir"].(string)
			if vm, ok := mountOf(path.Join(dir, "x")); !ok || vm.ReadOnly {
				t.Errorf("%s: file sink %s writes to %q, which is not a writable volume (the root filesystem is read-only)", what, name, dir)
			}
		}
	}
	for name, pr := range p.Providers {
		for k, v := range pr {
			if f, ok := v.(string); ok && strings.HasSuffix(k, "_file") {
				if vm, ok := mountOf(f); !ok || volumes[vm.Name].Secret == nil {
					t.Errorf("%s: providers.%s.%s %q is not in a mounted Secret", what, name, k, f)
				}
			}
		}
	}
	if what == "Deployment" {
		_, port, _ := strings.Cut(p.Listen, ":")
		if len(c.Ports) != 1 || fmt.Sprint(c.Ports[0].ContainerPort) != port || strings.HasPrefix(p.Listen, "127.") || strings.HasPrefix(p.Listen, "localhost") {
			t.Errorf("%s: policy listen %q does not serve the container port %v on the pod IP", what, p.Listen, c.Ports)
		}
		for _, pr := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
			if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Port.StrVal != c.Ports[0].Name {
				t.Errorf("%s: probe %+v does not use the named port %q", what, pr, c.Ports[0].Name)
			}
		}
		if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("%s: liveness %s, readiness %s, want /healthz and /readyz", what, c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
		}
	}
}

func TestKubernetesDaemon(t *testing.T) {
	m := render(t, ".")
	if len(m.deployments) != 1 || len(m.services) != 1 || len(m.serviceMonitors) != 1 || len(m.prometheusRules) != 1 ||
		len(m.configMaps) != 1 || len(m.pvcs) != 1 || len(m.serviceAccounts) != 1 || len(m.cronJobs) != 0 ||
		len(m.networkPolicies) != 1 {
		t.Fatalf("unexpected set of objects: %+v", m)
	}
	d := m.deployments["rotator"]
	if d == nil {
		t.Fatal("no Deployment rotator")
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("Deployment: replicas %v strategy %q, want 1 and Recreate (two daemons must never share a state file)", d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("Deployment: selector %v does not match its pod labels %v", d.Spec.Selector, d.Spec.Template.Labels)
	}
	checkPod(t, m, "Deployment", d.Spec.Template.Spec)

	for _, pvc := range m.pvcs {
		if len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != corev1.ReadWriteOnce {
			t.Errorf("PVC %s: access modes %v, want ReadWriteOnce", pvc.Name, pvc.Spec.AccessModes)
		}
	}

	svc := m.services["rotator"]
	if svc == nil {
		t.Fatal("no Service rotator")
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) || len(svc.Spec.Selector) == 0 {
		t.Errorf("Service: selector %v does not select the Deployment's pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.StrVal != c.Ports[0].Name {
		t.Errorf("Service: ports %+v do not target the container port %q", svc.Spec.Ports, c.Ports[0].Name)
	}

	sm := m.serviceMonitors["rotator"]
	smSel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil || !smSel.Matches(labels.Set(svc.Labels)) {
		t.Errorf("ServiceMonitor: selector %v does not select the Service (labels %v)", sm.Spec.Selector, svc.Labels)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name {
		t.Errorf("ServiceMonitor: endpoints %+v do not scrape the Service port %q", sm.Spec.Endpoints, svc.Spec.Ports[0].Name)
	}
	// The alert rules select job="rotator".
	if sm.Spec.JobLabel == "" || svc.Labels[sm.Spec.JobLabel] != "rotator" {
		t.Errorf("ServiceMonitor: jobLabel %q gives job %q, want \"rotator\" as the alert rules expect", sm.Spec.JobLabel, svc.Labels[sm.Spec.JobLabel])
	}

	checkNetworkPolicy(t, m, d)
	checkObjects(t, m)
}

// checkObjects checks every object: namespaced kinds only (decodeAll
// rejects others), no namespace set (the operator picks it), the common
// label.
func checkObjects(t *testing.T, m manifests) {
	t.Helper()
	for _, o := range objects(m) {
		if o.GetNamespace() != "" {
			t.Errorf("%s sets namespace %q: the base leaves it to `kubectl -n` or an overlay", o.GetName(), o.GetNamespace())
		}
		if o.GetLabels()["app.kubernetes.io/name"] != "rotator" {
			t.Errorf("%s has no app.kubernetes.io/name=rotator label", o.GetName())
		}
	}
}

func objects(m manifests) []metav1.Object {
	var out []metav1.Object
	for _, o := range m.serviceAccounts {
		out = append(out, o)
	}
	for _, o := range m.configMaps {
		out = append(out, o)
	}
	for _, o := range m.pvcs {
		out = append(out, o)
	}
	for _, o := range m.services {
		out = append(out, o)
	}
	for _, o := range m.deployments {
		out = append(out, o)
	}
	for _, o := range m.cronJobs {
		out = append(out, o)
	}
	for _, o := range m.serviceMonitors {
		out = append(out, o)
	}
	for _, o := range m.prometheusRules {
		out = append(out, o)
	}
	for _, o := range m.networkPolicies {
		out = append(out, o)
	}
	return out
}

func TestKubernetesRunNow(t *testing.T) {
	m := render(t, "run-now")
	if len(m.cronJobs) != 1 || len(m.deployments) != 0 || len(m.services) != 0 || len(m.serviceMonitors) != 0 {
		t.Fatalf("unexpected set of objects: %+v", m)
	}
	cj := m.cronJobs["rotator-run-now"]
	if cj == nil {
		t.Fatal("no CronJob rotator-run-now")
	}
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("CronJob: concurrencyPolicy %q, want Forbid (runs share the state file)", cj.Spec.ConcurrencyPolicy)
	}
	ps := cj.Spec.JobTemplate.Spec.Template.Spec
	if ps.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("CronJob: restartPolicy %q, want Never", ps.RestartPolicy)
	}
	if !strings.Contains(strings.Join(ps.Containers[0].Args, " "), "--run-now") {
		t.Errorf("CronJob: args %q lack --run-now", ps.Containers[0].Args)
	}
	checkPod(t, m, "CronJob", ps)
	checkObjects(t, m)

	// Both variants must use the same policy and state volume.
	d := render(t, ".")
	for n := range m.configMaps {
		if d.configMaps[n] == nil {
			t.Errorf("ConfigMap %s differs from the daemon's", n)
		}
	}
	for n := range m.pvcs {
		if d.pvcs[n] == nil {
			t.Errorf("PVC %s differs from the daemon's", n)
		}
	}
}

// TestKubernetesOverlay builds testdata/overlay (a local base, image renamed): the
// namespace, image, IRSA annotation and monitoring labels all land.
func TestKubernetesOverlay(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "overlay"))
	if err != nil {
		t.Fatal(err)
	}
	m := render(t, dir)
	for _, o := range objects(m) {
		if o.GetNamespace() != "rotator" {
			t.Errorf("%s: namespace %q", o.GetName(), o.GetNamespace())
		}
	}
	if got := m.deployments["rotator"].Spec.Template.Spec.Containers[0].Image; got != "registry.example.com/rotator:v1.2.3" {
		t.Errorf("image %q: the overlay's images: entry did not apply", got)
	}
	if m.serviceAccounts["rotator"].Annotations["eks.amazonaws.com/role-arn"] == "" {
		t.Error("no IRSA annotation on the ServiceAccount")
	}
	if m.prometheusRules["rotator"].Labels["release"] == "" || m.serviceMonitors["rotator"].Labels["release"] == "" {
		t.Error("no release label on the PrometheusRule or ServiceMonitor")
	}
}
