package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/rotator-dev/rotator/internal/testing/vaulttest"
)

// preflight against a real Vault: a wrong token, a token without the
// write capability and a wrong provider password each fail on their own
// line, naming the sink or provider as the policy does; nothing is
// created at the provider or written to Vault, and no state file appears.
func TestPreflightReportsEachProblem(t *testing.T) {
	v := vaulttest.Require(t)
	e := newEnv(t, "1h")
	must(t, v.Root.Sys().PutPolicy("rotator-read-only", `path "secret/data/*" { capabilities = ["read"] }
path "secret/metadata/*" { capabilities = ["read"] }`))
	tok, err := v.Root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"rotator-read-only"}})
	must(t, err)
	must(t, os.WriteFile(filepath.Join(e.dir, "ro-token"), []byte(tok.Auth.ClientToken+"\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(e.dir, "bad-token"), []byte("hvs.not-a-token\n"), 0o600))
	raw, err := os.ReadFile(e.config)
	must(t, err)
	vaults := fmt.Sprintf("sinks:\n  out: {type: file, dir: ./out}\n"+
		"  vault-ro: {type: vault, address: %q, token_file: ./ro-token, mount: secret, kv_version: 2}\n"+
		"  vault-bad: {type: vault, address: %q, token_file: ./bad-token, mount: secret, kv_version: 2}\n", v.Address, v.Address)
	cfg := strings.Replace(string(raw), "sinks:\n  out: {type: file, dir: ./out}\n", vaults, 1)
	cfg = strings.Replace(cfg, "sinks: [{sink: out, path: mail.env}]", "sinks: [{sink: vault-ro, path: preflight/mail}, {sink: out, path: mail.env}]", 1)
	cfg = strings.Replace(cfg, "sinks: [{sink: out, path: news.json,", "sinks: [{sink: vault-bad, path: preflight/news}, {sink: out, path: news.json,", 1)
	must(t, os.WriteFile(e.config, []byte(cfg), 0o600))
	must(t, os.WriteFile(filepath.Join(e.dir, "pw"), []byte("wrong-password\n"), 0o600))

	code, out, errs := runCLI(t, "preflight", "--config", e.config)
	if code != exitFailed {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := map[string]string{ // line prefix -> what its FAILED must say
		"provider smtpd: login and list":        "",
		"sink vault-ro: auth and capabilities":  "capability",
		"sink vault-bad: auth and capabilities": "",
	}
	for prefix, words := range want {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				found = true
				if !strings.Contains(l, "FAILED") || !strings.Contains(l, words) {
					t.Errorf("%s: %q", prefix, l)
				}
			}
		}
		if !found {
			t.Errorf("no line for %s:\n%s", prefix, out)
		}
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "provider emailit") && !strings.Contains(l, " OK") {
			t.Errorf("emailit: %q", l)
		}
	}
	if n := len(e.smtpd.Keys()) + len(e.emailit.IssuedSecrets()) - 1; n != 0 {
		t.Errorf("preflight created %d keys", n)
	}
	if _, err := v.Root.KVv2("secret").Get(t.Context(), "preflight/mail"); err == nil {
		t.Error("preflight wrote to Vault")
	}
	if _, err := os.Stat(filepath.Join(e.dir, "state.db")); err == nil {
		t.Error("preflight created the state file")
	}
	t.Logf("preflight:\n%s", out)
	e.assertNoSecret(t, "preflight output", out+errs)
}
