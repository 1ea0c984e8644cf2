package verify

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// remoteBase is the base the example overlay names: this repository's
// deploy/kubernetes at the release the image tag pins.
const remoteBase = "github.com/rotator-dev/rotator//deploy/kubernetes?ref=v0.1.0"

// TestKubernetesExampleOverlay builds deploy/kubernetes/overlays/example
// as a user would after copying it and putting their credentials files in
// place, with its remote base replaced by this checkout's deploy/kubernetes
// (in an in-memory filesystem: /base and /overlay): the policy is the
// overlay's, the image tag is pinned, the Secret holds the files and the
// pod mounts it.
func TestKubernetesExampleOverlay(t *testing.T) {
	base := filepath.Join(repoRoot(t), "deploy", "kubernetes")
	mem := filesys.MakeFsInMemory()
	copyTree := func(from, to string, skip string) {
		t.Helper()
		err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path == skip {
					return filepath.SkipDir
				}
				return nil
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
	copyTree(base, "/base", filepath.Join(base, "overlays"))
	copyTree(filepath.Join(base, "overlays", "example"), "/overlay", "")
	k, err := mem.ReadFile("/overlay/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(k, []byte("- "+remoteBase+"\n")); n != 1 {
		t.Fatalf("overlays/example names the remote base %q %d times, want once as its resource", remoteBase, n)
	}
	if err := mem.WriteFile("/overlay/kustomization.yaml", bytes.Replace(k, []byte(remoteBase), []byte("../base"), 1)); err != nil {
		t.Fatal(err)
	}
	overlay, want := "/overlay", readOverlayPolicy(t)
	secrets := map[string]string{"smtpd-password": "not-a-real-password", "emailit-api-key": "secret_not-a-real-key"}
	for f, v := range secrets {
		if err := mem.WriteFile(filepath.Join(overlay, "credentials", f), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, overlay)
	if err != nil {
		t.Fatalf("kustomize build overlays/example: %v", err)
	}
	out, err := rm.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	var rest bytes.Buffer
	var secret *corev1.Secret
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatal(err)
		}
		if tm.Kind == "Secret" {
			secret = &corev1.Secret{}
			if err := yaml.UnmarshalStrict(doc, secret); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rest.Write(doc)
		rest.WriteString("\n---\n")
	}
	m := decodeAll(t, rest.Bytes())
	d := m.deployments["rotator"]
	if d == nil {
		t.Fatal("no Deployment rotator")
	}
	checkPod(t, m, "Deployment", d.Spec.Template.Spec)
	if got := d.Spec.Template.Spec.Containers[0].Image; got != "ghcr.io/rotator-dev/rotator:v0.1.0" {
		t.Errorf("image %q, want the pinned ghcr.io/rotator-dev/rotator:v0.1.0", got)
	}
	if len(m.configMaps) != 1 {
		t.Fatalf("%d ConfigMaps, want the base's replaced by the overlay's", len(m.configMaps))
	}
	for _, cm := range m.configMaps {
		if cm.Data["rotator.yaml"] != string(want) {
			t.Errorf("ConfigMap %s does not hold overlays/example/rotator.yaml (behavior: replace)", cm.Name)
		}
	}
	if secret == nil || secret.Name != "rotator-credentials" || secret.Namespace != "rotator" {
		t.Fatalf("credentials Secret %+v, want rotator-credentials in namespace rotator", secret)
	}
	for f, v := range secrets {
		if string(secret.Data[f]) != v {
			t.Errorf("Secret key %s = %q, want the file's content", f, secret.Data[f])
		}
		if !strings.Contains(string(want), "/etc/rotator/credentials/"+f) {
			t.Errorf("the overlay's policy does not read credentials/%s", f)
		}
	}
	if m.prometheusRules["rotator"].Labels["release"] == "" || m.serviceMonitors["rotator"].Labels["release"] == "" {
		t.Error("no release label on the PrometheusRule or ServiceMonitor")
	}
}

func readOverlayPolicy(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "kubernetes", "overlays", "example", "rotator.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
