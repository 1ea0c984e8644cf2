package deploy

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBinaryIsStaticAndStamped checks what the distroless static image
// needs: no dynamic loader, no shared libraries, and the version stamped by
// the Dockerfile's ldflags reaching --version.
func TestBinaryIsStaticAndStamped(t *testing.T) {
	bin := buildRotator(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has a dynamic loader (PT_INTERP): not static, will not run on distroless/static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary links shared libraries %q", libs)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("rotator --version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), stampVersion) || !strings.Contains(string(out), stampRevision) {
		t.Errorf("rotator --version printed %q, want the stamped %s and %s", out, stampVersion, stampRevision)
	}
}

// TestShippedPoliciesPassCheckConfig runs `rotator --check-config` on the
// policy the Kubernetes manifests ship, with its absolute paths moved into
// a temporary folder.
func TestShippedPoliciesPassCheckConfig(t *testing.T) {
	bin := buildRotator(t)
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := os.MkdirAll(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	src := readFile(t, filepath.Join("kubernetes", "common", "rotator.yaml"))
	for _, m := range regexp.MustCompile(`/etc/rotator/credentials/([a-z0-9-]+)`).FindAllStringSubmatch(src, -1) {
		writeFile(t, filepath.Join(creds, m[1]), "not-a-real-secret\n")
	}
	src = strings.NewReplacer("/etc/rotator/credentials", creds, "/var/lib/rotator", filepath.Join(dir, "state")).Replace(src)
	cfg := filepath.Join(dir, "rotator.yaml")
	writeFile(t, cfg, src)
	out, err := exec.Command(bin, "--check-config", "--config", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("rotator --check-config on deploy/kubernetes/common/rotator.yaml: %v\n%s", err, out)
	}
}

// TestDeployedFlagsExist checks that every flag the units and manifests
// pass to rotator is one the binary knows.
func TestDeployedFlagsExist(t *testing.T) {
	bin := buildRotator(t)
	// Every flag the help of rotator and of each command names.
	help, _ := exec.Command(bin, "--help").CombinedOutput()
	for _, cmd := range regexp.MustCompile(`(?m)^  ([a-z-]+)  `).FindAllStringSubmatch(string(help), -1) {
		more, _ := exec.Command(bin, "help", cmd[1]).CombinedOutput()
		help = append(help, more...)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`--([a-z][a-z-]+)`).FindAllStringSubmatch(string(help), -1) {
		known[m[1]] = true
	}
	if len(known) < 5 {
		t.Fatalf("could not read flags from rotator --help:\n%s", help)
	}
	files := []string{"systemd/rotator.service", "systemd/rotator-run-now.service",
		"kubernetes/deployment.yaml", "kubernetes/run-now/cronjob.yaml", "helm/rotator/templates/_helpers.tpl", "../Dockerfile"}
	flag := regexp.MustCompile(`(?:^|[\s"\[])--([a-z][a-z-]+)`)
	for _, f := range files {
		for _, line := range strings.Split(readFile(t, f), "\n") {
			// Command lines: ExecStart=, args:, CMD and ENTRYPOINT.
			l := strings.TrimSpace(line)
			if !strings.HasPrefix(l, "ExecStart=") && !strings.HasPrefix(l, "args:") &&
				!strings.HasPrefix(l, "CMD ") && !strings.HasPrefix(l, "ENTRYPOINT ") {
				continue
			}
			for _, m := range flag.FindAllStringSubmatch(line, -1) {
				if !known[m[1]] {
					t.Errorf("%s passes --%s, which rotator does not know: %s", f, m[1], strings.TrimSpace(line))
				}
			}
		}
	}
}
