package verify

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// TestKubernetesHA builds deploy/kubernetes/ha: two replicas rolling
// without a gap, spread over nodes, a PodDisruptionBudget that selects
// them, the DSN from the Secret rotator-db, and no state volume.
func TestKubernetesHA(t *testing.T) {
	m := renderWithLocalBase(t, "ha")
	if len(m.deployments) != 1 || len(m.pvcs) != 0 || len(m.pdbs) != 1 || len(m.configMaps) != 1 {
		t.Fatalf("unexpected set of objects: %d deployments, %d PVCs, %d PDBs, %d ConfigMaps", len(m.deployments), len(m.pvcs), len(m.pdbs), len(m.configMaps))
	}
	d := m.deployments["rotator"]
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", d.Spec.Replicas)
	}
	ru := d.Spec.Strategy.RollingUpdate
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("strategy %+v: want RollingUpdate with maxUnavailable 0", d.Spec.Strategy)
	}
	pod := d.Spec.Template.Spec
	aa := pod.Affinity
	if aa == nil || aa.PodAntiAffinity == nil || len(aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		t.Fatal("no pod anti-affinity")
	}
	term := aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm
	sel, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) || term.TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("anti-affinity term %+v does not spread the pods over nodes (%v)", term, err)
	}
	for _, p := range m.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) || p.Spec.MinAvailable == nil || p.Spec.MinAvailable.IntValue() != 1 {
			t.Errorf("PodDisruptionBudget %s: selector %v minAvailable %v: want the daemon's pods and 1", p.Name, p.Spec.Selector, p.Spec.MinAvailable)
		}
	}
	var db bool
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil || v.Name == "state" {
			t.Errorf("volume %s: the HA overlay keeps no state on a volume", v.Name)
		}
		if v.Secret != nil && v.Secret.SecretName == "rotator-db" {
			db = true
		}
	}
	mounts := map[string]string{}
	for _, vm := range pod.Containers[0].VolumeMounts {
		mounts[vm.Name] = vm.MountPath
	}
	if !db || mounts["db"] != "/etc/rotator/db" || mounts["state"] != "" {
		t.Errorf("mounts %v (Secret rotator-db mounted: %v): want the DSN at /etc/rotator/db and no state volume", mounts, db)
	}
	var policy string
	for _, cm := range m.configMaps {
		policy = cm.Data["rotator.yaml"]
	}
	for _, want := range []string{"backend: postgres", "dsn_file: /etc/rotator/db/dsn"} {
		if !strings.Contains(policy, want) {
			t.Errorf("the HA policy lacks %q", want)
		}
	}
	checkHAPolicy(t, policy)
}

// renderWithLocalBase renders deploy/kubernetes/<dir>, an overlay that
// names the remote base, with that base replaced by this checkout's (in an
// in-memory filesystem: /base and /overlay).
func renderWithLocalBase(t *testing.T, dir string) manifests {
	t.Helper()
	base := filepath.Join(repoRoot(t), "deploy", "kubernetes")
	mem := filesys.MakeFsInMemory()
	for from, to := range map[string]string{base: "/base", filepath.Join(base, dir): "/overlay"} {
		err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(from, path)
			return mem.WriteFile(filepath.Join(to, rel), b)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	k, err := mem.ReadFile("/overlay/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(k, []byte("- "+remoteBase+"\n")); n != 1 {
		t.Fatalf("%s names the remote base %q %d times, want once as its resource", dir, remoteBase, n)
	}
	if err := mem.WriteFile("/overlay/kustomization.yaml", bytes.Replace(k, []byte(remoteBase), []byte("../base"), 1)); err != nil {
		t.Fatal(err)
	}
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/overlay")
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := rm.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return decodeAll(t, out)
}

// checkHAPolicy validates the HA policy with rotator check when a rotator
// binary is at hand (ROTATOR_BIN); the DSN file is a stand-in.
func checkHAPolicy(t *testing.T, policy string) {
	bin := os.Getenv("ROTATOR_BIN")
	if bin == "" {
		return
	}
	dir := t.TempDir()
	dsn := filepath.Join(dir, "dsn")
	if err := os.WriteFile(dsn, []byte("postgres://rotator:x@db.example/rotator?sslmode=verify-full\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	policy = strings.ReplaceAll(policy, "/etc/rotator/db/dsn", dsn)
	cfg := filepath.Join(dir, "rotator.yaml")
	if err := os.WriteFile(cfg, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "--check-config", "--config", cfg).CombinedOutput(); err != nil && !strings.Contains(string(out), "credentials") {
		t.Errorf("rotator --check-config on the HA policy: %v\n%s", err, out)
	}
}
