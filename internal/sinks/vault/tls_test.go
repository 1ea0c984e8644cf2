package vault_test

import (
	"encoding/pem"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/vault"
)

// TestTLS puts an https front (httptest's certificate: example.com and
// 127.0.0.1) before the real Vault: verification is on unless the
// configuration says tls_skip_verify, and VAULT_* variables change nothing.
func TestTLS(t *testing.T) {
	f := setup(t)
	u, err := url.Parse(f.dev.Address)
	require.NoError(t, err)
	front := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(u))
	t.Cleanup(front.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw}), 0o600))
	t.Setenv("VAULT_SKIP_VERIFY", "true")
	t.Setenv("VAULT_CACERT", ca)

	check := func(extra string) error {
		t.Helper()
		cfg, err := vault.ParseConfig(section(t, "sinks.vault", "{type: vault, address: "+front.URL+", "+f.authYAML("token")+extra+"}"))
		require.NoError(t, err)
		s, err := vault.New(cfg, sinks.Deps{})
		require.NoError(t, err)
		defer s.Close()
		tg, err := s.Bind(section(t, "keys[0].sinks[0]", "{sink: vault, path: tls/x}"))
		require.NoError(t, err)
		if err := s.Check(t.Context()); err != nil {
			return err
		}
		_, err = tg.Write(t.Context(), write("k", sinks.Secret{"key": "over-tls"}))
		return err
	}

	require.ErrorContains(t, check(""), "certificate signed by unknown authority")
	require.NoError(t, check(", ca_cert: "+ca))
	require.ErrorContains(t, check(", ca_cert: "+ca+", tls_server_name: wrong.example.net"), "not wrong.example.net")
	require.NoError(t, check(", ca_cert: "+ca+", tls_server_name: example.com"))
	require.NoError(t, check(", tls_skip_verify: true"))
}
