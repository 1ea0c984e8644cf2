package main

import (
	"os"
	"path/filepath"
	"testing"
)

// A control command's KEY that names no key of the policy is a usage
// error (exit 2) that lists the valid names, with the closest one, before
// the state file is opened (rotate said "nope: FAILED: nope: no such key
// in the configuration", exit 1, and named no key).
func TestControlCommandUnknownKeyListsTheNames(t *testing.T) {
	e := newEnv(t, "1h")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"rotate", "--config", e.config, "nope"}, "rotator: rotate: nope: no such key in the policy (keys: mail, news)\n"},
		{[]string{"rotate", "--config", e.config, "mail", "nwes"}, `rotator: rotate: nwes: no such key in the policy; did you mean "news"? (keys: mail, news)` + "\n"},
		{[]string{"pause", "--config", e.config, "mial"}, `rotator: pause: mial: no such key in the policy; did you mean "mail"? (keys: mail, news)` + "\n"},
		{[]string{"resume", "--config", e.config, "nope"}, "rotator: resume: nope: no such key in the policy (keys: mail, news)\n"},
		{[]string{"revoke", "--config", e.config, "--superseded", "nope"}, "rotator: revoke: nope: no such key in the policy (keys: mail, news)\n"},
	}
	for _, tc := range tests {
		code, out, errs := runCLIRaw(t, tc.args...)
		if code != exitConfig || out != "" || errs != tc.want {
			t.Errorf("%v: exit %d\nstdout %q\nstderr %q\nwant   %q", tc.args, code, out, errs, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir, "state.db")); err == nil {
		t.Error("the state file was opened for an unknown key")
	}
}
