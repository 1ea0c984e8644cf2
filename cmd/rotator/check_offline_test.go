package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A production policy whose secret files are not on this machine: check
// fails naming the file; check --offline passes with a warning naming
// each one's YAML path, and changes nothing.
func TestCheckOffline(t *testing.T) {
	e := newEnv(t, "1h")
	b, err := os.ReadFile(e.config)
	must(t, err)
	cfg := strings.Replace(string(b), "password_file: ./pw", "password_file: /run/secrets/smtpd-password", 1)
	cfg = strings.Replace(cfg, "state: {path: ./state.db}",
		"state: {backend: postgres, dsn_file: ./secrets/dsn}\ncontrol: {listen: \"127.0.0.1:0\", token_file: ./secrets/control-token}", 1)
	must(t, os.WriteFile(e.config, []byte(cfg), 0o600))

	code, out, errs := runCLI(t, "check", "--config", e.config)
	if code != exitConfig || !strings.Contains(errs, "state.dsn_file (line 2): read secret file: "+filepath.Join(e.dir, "secrets", "dsn")) {
		t.Fatalf("check: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runCLI(t, "check", "--config", e.config, "--offline")
	if code != exitOK || !strings.Contains(out, ": OK (2 keys") {
		t.Fatalf("check --offline: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"warning: providers.smtpd.password_file (line ", "/run/secrets/smtpd-password does not exist here",
		"warning: state.dsn_file", filepath.Join(e.dir, "secrets", "dsn"), "warning: control.token_file",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check --offline does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errs, string("rotator-offline-placeholder")) {
		t.Error("the placeholder of a missing secret is shown")
	}
	if code, _, errs := runCLI(t, "run", "--config", e.config, "--offline"); code != exitConfig || !strings.Contains(errs, "run does not take --offline") {
		t.Errorf("run --offline: exit %d %s", code, errs)
	}
}
