package deploy

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReleaseScript runs scripts/release for linux/amd64 into a temporary
// folder and checks what a user downloads: SHA256SUMS in `sha256sum -c`
// format matching the files, a static binary, and the version stamped.
func TestReleaseScript(t *testing.T) {
	requireTool(t, "go", "golang")
	requireTool(t, "sha256sum", "coreutils")
	script := filepath.Join(repoRoot(t), "scripts", "release")
	if out, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n scripts/release: %v\n%s", err, out)
	}
	out := t.TempDir()
	const version = "v0.0.0-test.1"
	cmd := exec.Command(script, version, out)
	cmd.Env = append(os.Environ(), "PLATFORMS=linux/amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/release: %v\n%s", err, b)
	}

	sums := readFile(t, filepath.Join(out, "SHA256SUMS"))
	line := regexp.MustCompile(`^([0-9a-f]{64})  (rotator-v[^/\s]+-linux-(amd64|arm64))$`)
	lines := strings.Split(strings.TrimSuffix(sums, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("SHA256SUMS has %d lines, want 1 (PLATFORMS=linux/amd64):\n%s", len(lines), sums)
	}
	m := line.FindStringSubmatch(lines[0])
	if m == nil {
		t.Fatalf("SHA256SUMS line %q is not `<sha256>  <file>`", lines[0])
	}
	if m[2] != "rotator-"+version+"-linux-amd64" {
		t.Errorf("file %q, want rotator-%s-linux-amd64", m[2], version)
	}
	bin := filepath.Join(out, m[2])
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != m[1] {
		t.Errorf("SHA256SUMS says %s, the file hashes to %x", m[1], sum)
	}
	check := exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = out
	if b, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c SHA256SUMS: %v\n%s", err, b)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("release binary has a dynamic loader: not static")
		}
	}
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("release binary for linux/amd64 is for %v", f.Machine)
	}
	if v, err := exec.Command(bin, "--version").CombinedOutput(); err != nil || !strings.Contains(string(v), version) {
		t.Errorf("rotator --version: %v %q, want %s", err, v, version)
	}
}

// TestReleaseScriptRejectsNonSemVer: the version becomes the tag, the file
// names and --version; a typo must stop the release.
func TestReleaseScriptRejectsNonSemVer(t *testing.T) {
	script := filepath.Join(repoRoot(t), "scripts", "release")
	for _, v := range []string{"1.2.3", "v1.2", "v01.2.3", "latest"} {
		out, err := exec.Command(script, v, t.TempDir()).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "not SemVer") {
			t.Errorf("scripts/release %s: %v %q, want exit 2 naming SemVer", v, err, out)
		}
	}
}
