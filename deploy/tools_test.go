// Package deploy holds the tests that prove the deployment files work with
// the real tools: systemd-analyze on the units, promtool on the alert
// rules, a real Prometheus scraping the daemon in --demo mode, and checks of
// the Dockerfile and the Grafana dashboard. The Kubernetes manifests are
// checked by the separate module in deploy/kubernetes/manifest_test, so
// that k8s.io/api stays out of the product's go.mod.
package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// requireTool returns the path of an external tool. Without it the test is
// skipped on a developer's machine and fails in CI (CI=true), which must
// install the Debian package named.
func requireTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found and CI=true: install it with `apt-get install -y %s`", name, debianPackage)
	}
	t.Skipf("%s not found: `apt-get install -y %s` to run this test", name, debianPackage)
	return ""
}

// repoRoot is the repository's top folder (tests run in deploy/).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
