package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/testing/vaulttest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	vaulttest.StopShared()
	os.Exit(code)
}

// TestRunNowWritesVaultKV2 is issue 4's end-to-end check: --run-now with an
// example-style policy writes to a real Vault's KV v2, and the vault API
// client reads back a credential the provider accepts, with the custom
// metadata naming what rotated it.
func TestRunNowWritesVaultKV2(t *testing.T) {
	v := vaulttest.Require(t)
	e := newEnv(t, "0s")
	must(t, os.WriteFile(filepath.Join(e.dir, "vault-token"), []byte(v.RootToken+"\n"), 0o600))
	raw, err := os.ReadFile(e.config)
	must(t, err)
	cfg := strings.Replace(string(raw), "sinks:\n  out: {type: file, dir: ./out}\n",
		fmt.Sprintf("sinks:\n  out: {type: file, dir: ./out}\n  vault: {type: vault, address: %q, token_file: ./vault-token, mount: secret, kv_version: 2}\n", v.Address), 1)
	cfg = strings.Replace(cfg, "sinks: [{sink: out, path: mail.env}]", "sinks: [{sink: vault, path: rotator-e2e/mail}, {sink: out, path: mail.env}]", 1)
	must(t, os.WriteFile(e.config, []byte(cfg), 0o600))

	for run := 1; run <= 2; run++ {
		code, out, errs := runCLI(t, "--config", e.config, "--run-now")
		if code != exitOK {
			t.Fatalf("run %d: exit %d\n%s\n%s", run, code, out, errs)
		}
		e.assertNoSecret(t, "logs", errs)
	}
	kv, err := v.Root.KVv2("secret").Get(context.Background(), "rotator-e2e/mail")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := kv.Data["key"].(string)
	secret, _ := kv.Data["secret"].(string)
	if !e.smtpd.Valid(providers.Credential{"key": key, "secret": secret}) {
		t.Fatal("Vault holds a credential smtpd does not accept")
	}
	if kv.VersionMetadata == nil || kv.VersionMetadata.Version != 2 {
		t.Errorf("version metadata %+v, want version 2 after two rotations", kv.VersionMetadata)
	}
	meta, err := v.Root.KVv2("secret").GetMetadata(context.Background(), "rotator-e2e/mail")
	if err != nil {
		t.Fatal(err)
	}
	if got := meta.CustomMetadata["rotator_key_id"]; got != kv.Data["key_id"] {
		t.Errorf("custom_metadata rotator_key_id = %v, want the key id %v", got, kv.Data["key_id"])
	}
	// The first key was revoked (grace 0), and only after Vault held the second.
	active := 0
	for _, k := range e.smtpd.Keys() {
		if k.Active {
			active++
		}
	}
	if active != 1 {
		t.Errorf("%d active smtpd keys, want 1", active)
	}
}
