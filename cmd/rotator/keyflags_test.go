package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run-now --key with a name the policy does not have is a usage error
// (exit 2, naming the key and the closest one) found before the state
// file is opened or any start-up check runs: here the sink's check would
// fail (exit 1) first.
func TestRunNowUnknownKey(t *testing.T) {
	e := newEnv(t, "1h")
	b, err := os.ReadFile(e.config)
	must(t, err)
	must(t, os.WriteFile(e.config, []byte(strings.Replace(string(b), "dir: ./out", "dir: ./missing/out", 1)), 0o600))
	if code, _, errs := runCLI(t, "run-now", "--config", e.config, "--key", "mail"); code != exitFailed || !strings.Contains(errs, "start-up checks failed") {
		t.Fatalf("run-now --key mail with a broken sink: exit %d %s", code, errs)
	}
	must(t, os.Remove(filepath.Join(e.dir, "state.db")))
	for _, cmd := range []string{"run-now", "plan"} {
		code, out, errs := runCLI(t, cmd, "--config", e.config, "--key", "mail", "--key", "nwes")
		want := "rotator: " + cmd + `: --key nwes: no such key in the policy; did you mean "news"? (keys: mail, news)` + "\n"
		if code != exitConfig || out != "" || errs != want {
			t.Errorf("%s --key nwes: exit %d\nstdout %q\nstderr %q\nwant   %q", cmd, code, out, errs, want)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir, "state.db")); err == nil {
		t.Error("the state file was opened for an unknown key")
	}
}
