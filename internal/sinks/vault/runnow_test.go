package vault_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/emailit/emailittest"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/wire"
)

// TestRunNowWritesKV2ReadByTheVaultClient is what --run-now does, from a
// rotator.example.yaml-style configuration through wire and the real
// engine, against the Emailit test server and the real Vault with AppRole
// (secret_id_file): the secret is then read back with the vault API client.
func TestRunNowWritesKV2ReadByTheVaultClient(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	dir := t.TempDir()
	mgmt := emailittest.NewSecret()
	srv := emailittest.New(emailittest.Config{ManagementKey: mgmt, RateLimit: emailittest.NoRateLimit})
	t.Cleanup(srv.Close)
	if err := os.WriteFile(filepath.Join(dir, "emailit-key"), []byte(mgmt+"\n"), 0o600); err != nil {
		t.Fatalf("os.WriteFile: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret-id"), []byte(f.secretID+"\n"), 0o600); err != nil {
		t.Fatalf("os.WriteFile: %v", err)
	}
	path := uniquePath("mail")

	yaml := `
state:
  path: ./state.db
defaults:
  grace: 0s
  keepalive: 0s
providers:
  emailit:
    type: emailit
    base_url: ` + srv.URL() + `
    api_key_file: ./emailit-key
    rate_limit: 100
sinks:
  vault:
    type: vault
    address: ` + f.dev.Address + `
    mount: secret
    kv_version: 2
    approle:
      role_id: ` + f.roleID + `
      secret_id_file: ./secret-id
keys:
  - name: emailit-sending
    provider: emailit
    params: {scope: sending}
    sinks:
      - sink: vault
        path: ` + path + `
        fields: {api_key: EMAILIT_API_KEY}
`
	cfg, err := config.Load(strings.NewReader(yaml), dir)
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	clock := clockwork.NewRealClock()
	metrics := rotate.NewMetrics(prometheus.NewRegistry())
	built, err := wire.Build(cfg, wire.Deps{Logger: log, Clock: clock, UserAgent: "rotator/test", Observer: metrics})
	if err != nil {
		t.Fatalf("wire.Build: %v", err)
	}
	store, err := state.Open(filepath.Join(dir, "state.db"), state.Options{})
	if err != nil {
		t.Fatalf("state.Open: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	eng, err := rotate.New(rotate.Options{Keys: built.Keys, Providers: built.Providers, Sinks: built.Sinks,
		Store: store, Logger: log, Metrics: metrics, Clock: clock})
	if err != nil {
		t.Fatalf("rotate.New: %v", err)
	}
	t.Cleanup(func() {
		for _, s := range built.Sinks {
			if c, ok := s.(interface{ Close() error }); ok {
				_ = c.Close()
			}
		}
	})
	if err := eng.Check(ctx); err != nil {
		t.Fatalf("eng.Check(ctx): %v", err)
	}

	var written []string
	for round := 1; round <= 2; round++ {
		results, err := eng.RunOnce(ctx, rotate.Once{})
		if err != nil {
			t.Fatalf("eng.RunOnce: %v", err)
		}
		if len(results) != 1 {
			t.Fatalf("len(results) = %d, want %d: %+v", len(results), 1, results)
		}
		if !results[0].Rotated {
			t.Fatalf("results[0].Rotated: got false, want true")
		}

		kv, err := f.dev.root.KVv2("secret").Get(ctx, path)
		if err != nil {
			t.Fatalf("f.dev.root.KVv2(\"secret\").Get: %v", err)
		}
		if kv.VersionMetadata.Version != round {
			t.Fatalf("kv.VersionMetadata.Version = %v, want %v", kv.VersionMetadata.Version, round)
		}
		apiKey, _ := kv.Data["EMAILIT_API_KEY"].(string)
		if !srv.Valid(providers.Credential{"api_key": apiKey}) {
			t.Fatalf("Vault holds a key Emailit refuses: got false, want true")
		}
		keyID, _ := kv.Data["key_id"].(string)
		if keyID == "" {
			t.Fatalf("keyID = %q, want non-empty", keyID)
		}
		for _, field := range []string{"key_name", "created_at"} {
			if kv.Data[field] == nil || reflect.ValueOf(kv.Data[field]).IsZero() {
				t.Fatalf("%s = %v, want non-empty", field, kv.Data[field])
			}
		}
		if !reflect.DeepEqual(keyID, kv.CustomMetadata["rotator_key_id"]) {
			t.Fatalf("kv.CustomMetadata[\"rotator_key_id\"] = %+v, want %+v", kv.CustomMetadata["rotator_key_id"], keyID)
		}
		if !reflect.DeepEqual("rotator", kv.CustomMetadata["managed_by"]) {
			t.Fatalf("kv.CustomMetadata[\"managed_by\"] = %+v, want %+v", kv.CustomMetadata["managed_by"], "rotator")
		}
		written = append(written, apiKey)
	}
	// grace 0s: the first key was revoked in the second run.
	if srv.Valid(providers.Credential{"api_key": written[0]}) {
		t.Fatalf("srv.Valid(providers.Credential{\"api_key\": written[0]}): got true, want false")
	}
	sinktest.AssertLogsNoSecret(t, logs, append(f.secrets(), mgmt, written[0], written[1])...)
}
