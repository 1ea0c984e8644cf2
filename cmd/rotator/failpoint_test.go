package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestFailpointsOnlyInTheTestBuild builds the shipped binary and the e2e
// build (-tags failpoints) and looks for the test hooks' variable names:
// the shipped binary must not read them (it could be made to SIGKILL
// itself or to retry in a tight loop), the e2e build must.
func TestFailpointsOnlyInTheTestBuild(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		tags []string
		want bool
	}{{nil, false}, {[]string{"-tags", "failpoints"}, true}} {
		bin := filepath.Join(dir, "rotator")
		args := append(append([]string{"build"}, c.tags...), "-o", bin, ".")
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"ROTATOR_FAILPOINT", "ROTATOR_TEST_RETRY_BASE", "ROTATOR_TEST_RETRY_MAX"} {
			if got := bytes.Contains(b, []byte(s)); got != c.want {
				t.Errorf("go %v: the binary contains %s: %v, want %v", args, s, got, c.want)
			}
		}
	}
}
