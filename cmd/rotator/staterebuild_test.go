package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCorruptStateIsRefusedAndRebuilt damages one record of a real state
// file: every command refuses it naming the rebuild; `state rebuild` sets
// it aside and adopts each key's current key from its targets, after which
// a pass has nothing to do (no new key at the providers).
func TestCorruptStateIsRefusedAndRebuilt(t *testing.T) {
	e := newEnv(t, "1h")
	if code, out, errs := runCLI(t, "--config", e.config, "--run-now"); code != exitOK {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errs)
	}
	_, before, _ := runCLI(t, "--config", e.config, "--status")
	path := filepath.Join(e.dir, "state.db")
	b, err := os.ReadFile(path)
	must(t, err)
	i := bytes.Index(b, []byte(`"rotations":1`))
	if i < 0 {
		t.Fatal("no record found in the state file")
	}
	b[i+len(`"rotations":`)] = '7' // valid JSON, a different record
	must(t, os.WriteFile(path, b, 0o600))

	for _, args := range [][]string{{"--run-now"}, {"--status"}} {
		code, _, errs := runCLI(t, append([]string{"--config", e.config}, args...)...)
		if code != exitFailed || !strings.Contains(errs, "state file is corrupt") || !strings.Contains(errs, "rotator state rebuild") {
			t.Errorf("%v on a corrupt state file: exit %d, want 1 and the rebuild hint:\n%s", args, code, errs)
		}
	}
	creates := e.smtpd.Requests()["create"] + e.emailit.Requests()["create"]

	code, out, errs := runCLI(t, "state", "rebuild", "--config", e.config)
	if code != exitOK || !strings.Contains(out, "the old state file is now") {
		t.Fatalf("state rebuild: exit %d\n%s%s", code, out, errs)
	}
	for _, k := range []string{"mail", "news"} {
		if !strings.Contains(out, k) || !strings.Contains(out, "adopted") {
			t.Errorf("rebuild output does not adopt %s:\n%s", k, out)
		}
	}
	aside, _ := filepath.Glob(path + ".corrupt-*")
	if len(aside) != 1 {
		t.Errorf("set-aside files %v, want one", aside)
	}
	_, after, _ := runCLI(t, "--config", e.config, "--status")
	for _, line := range strings.Split(before, "\n")[1:] {
		// KEY PROVIDER CURRENT-KEY-ID AGE ...: the id is the third field.
		if f := strings.Fields(line); len(f) > 2 && !strings.Contains(after, f[2]) {
			t.Errorf("current key %q of %q lost by the rebuild:\nbefore:\n%s\nafter:\n%s", f[2], f[0], before, after)
		}
	}
	if code, out, errs := runCLI(t, "--config", e.config, "--run-now", "--due-only"); code != exitOK {
		t.Fatalf("run after rebuild: exit %d\n%s%s", code, out, errs)
	}
	if n := e.smtpd.Requests()["create"] + e.emailit.Requests()["create"]; n != creates {
		t.Errorf("%d creates after the rebuild, want none: the adopted keys are current", n-creates)
	}
	e.assertNoSecret(t, "rebuild output", out+errs)
}
