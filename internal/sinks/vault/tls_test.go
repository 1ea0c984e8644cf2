package vault_test

import (
	"encoding/pem"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/vault"
)

// TestTLS puts an https front (httptest's certificate: example.com and
// 127.0.0.1) before the real Vault: verification is on unless the
// configuration says tls_skip_verify, and VAULT_* variables change nothing.
func TestTLS(t *testing.T) {
	f := setup(t)
	u, err := url.Parse(f.dev.Address)
	if err != nil {
		t.Fatalf("url.Parse: %v", err)
	}
	front := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(u))
	t.Cleanup(front.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw}), 0o600); err != nil {
		t.Fatalf("os.WriteFile: %v", err)
	}
	t.Setenv("VAULT_SKIP_VERIFY", "true")
	t.Setenv("VAULT_CACERT", ca)

	check := func(extra string) error {
		t.Helper()
		cfg, err := vault.ParseConfig(section(t, "sinks.vault", "{type: vault, address: "+front.URL+", "+f.authYAML("token")+extra+"}"))
		if err != nil {
			t.Fatalf("vault.ParseConfig: %v", err)
		}
		s, err := vault.New(cfg, sinks.Deps{})
		if err != nil {
			t.Fatalf("vault.New: %v", err)
		}
		defer s.Close()
		tg, err := s.Bind(section(t, "keys[0].sinks[0]", "{sink: vault, path: tls/x}"))
		if err != nil {
			t.Fatalf("s.Bind: %v", err)
		}
		if err := s.Check(t.Context()); err != nil {
			return err
		}
		_, err = tg.Write(t.Context(), write("k", sinks.Secret{"key": "over-tls"}))
		return err
	}

	if err := check(""); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("check(\"\"): got error %v, want one containing %q", err, "certificate signed by unknown authority")
	}
	if err := check(", ca_cert: " + ca); err != nil {
		t.Fatalf("check(\", ca_cert: \"+ca): %v", err)
	}
	if err := check(", ca_cert: " + ca + ", tls_server_name: wrong.example.net"); err == nil || !strings.Contains(err.Error(), "not wrong.example.net") {
		t.Fatalf("check(\", ca_cert: \"+ca+\", tls_server_name: wrong.example.net\"): got error %v, want one containing %q", err, "not wrong.example.net")
	}
	if err := check(", ca_cert: " + ca + ", tls_server_name: example.com"); err != nil {
		t.Fatalf("check(\", ca_cert: \"+ca+\", tls_server_name: example.com\"): %v", err)
	}
	if err := check(", tls_skip_verify: true"); err != nil {
		t.Fatalf("check(\", tls_skip_verify: true\"): %v", err)
	}
}
