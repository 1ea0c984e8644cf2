package vault_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
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
	require.NoError(t, os.WriteFile(filepath.Join(dir, "emailit-key"), []byte(mgmt+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secret-id"), []byte(f.secretID+"\n"), 0o600))
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
	require.NoError(t, err)
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	clock := clockwork.NewRealClock()
	metrics := rotate.NewMetrics(prometheus.NewRegistry())
	built, err := wire.Build(cfg, wire.Deps{Logger: log, Clock: clock, UserAgent: "rotator/test", Observer: metrics})
	require.NoError(t, err)
	store, err := state.Open(filepath.Join(dir, "state.db"), state.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	eng, err := rotate.New(rotate.Options{Keys: built.Keys, Providers: built.Providers, Sinks: built.Sinks,
		Store: store, Logger: log, Metrics: metrics, Clock: clock})
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, s := range built.Sinks {
			if c, ok := s.(interface{ Close() error }); ok {
				_ = c.Close()
			}
		}
	})
	require.NoError(t, eng.Check(ctx))

	var written []string
	for round := 1; round <= 2; round++ {
		results, err := eng.RunOnce(ctx, rotate.Once{})
		require.NoError(t, err)
		require.Len(t, results, 1)
		require.True(t, results[0].Rotated)

		kv, err := f.dev.root.KVv2("secret").Get(ctx, path)
		require.NoError(t, err)
		require.Equal(t, round, kv.VersionMetadata.Version)
		apiKey, _ := kv.Data["EMAILIT_API_KEY"].(string)
		require.True(t, srv.Valid(providers.Credential{"api_key": apiKey}), "Vault holds a key Emailit refuses")
		keyID, _ := kv.Data["key_id"].(string)
		require.NotEmpty(t, keyID)
		require.NotEmpty(t, kv.Data["key_name"])
		require.NotEmpty(t, kv.Data["created_at"])
		require.Equal(t, keyID, kv.CustomMetadata["rotator_key_id"])
		require.Equal(t, "rotator", kv.CustomMetadata["managed_by"])
		written = append(written, apiKey)
	}
	// grace 0s: the first key was revoked in the second run.
	require.False(t, srv.Valid(providers.Credential{"api_key": written[0]}))
	sinktest.AssertLogsNoSecret(t, logs, append(f.secrets(), mgmt, written[0], written[1])...)
}
