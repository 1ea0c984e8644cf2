package vault_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
	"github.com/rotator-dev/rotator/internal/sinks/vault"
)

// elsewhere is another origin: a faithful copy of Vault (a proxy to the
// real one, as an attacker in the middle would run) that records every
// request it receives, headers and body.
type elsewhere struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string
}

func newElsewhere(t *testing.T, vaultAddr string) *elsewhere {
	u, err := url.Parse(vaultAddr)
	if err != nil {
		t.Fatalf("url.Parse: %v", err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	e := &elsewhere{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.seen = append(e.seen, r.Method+" "+r.URL.Path+" token="+r.Header.Get("X-Vault-Token")+" body="+string(body))
		e.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *elsewhere) requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seen...)
}

// redirector fronts the real Vault and answers 307 to the other origin
// for the requests redirect picks; it forwards the others.
func redirector(t *testing.T, vaultAddr, to string, redirect func(r *http.Request) bool) string {
	u, err := url.Parse(vaultAddr)
	if err != nil {
		t.Fatalf("url.Parse: %v", err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if redirect(r) {
			http.Redirect(w, r, to+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestRedirectsAreNotFollowed: vault/api follows a 307 itself, token and
// body included. Whatever request is redirected (the token lookup, the
// AppRole or Kubernetes login, the KV read, the write, the metadata patch,
// the read-back), nothing reaches the other origin and the call fails.
func TestRedirectsAreNotFollowed(t *testing.T) {
	f := setup(t)
	cases := []struct {
		name, auth string
		pick       func(r *http.Request) bool
		checkFails bool
	}{
		{"everything", "token", func(*http.Request) bool { return true }, true},
		{"token lookup", "token", func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/auth/token/lookup-self") }, true},
		{"approle login", "approle", func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/auth/approle/login") }, true},
		{"kubernetes login", "kubernetes", func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/auth/kubernetes/login") }, true},
		{"kv read", "token", func(r *http.Request) bool {
			return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/secret/data/") && r.URL.RawQuery == ""
		}, false},
		{"kv write", "token", func(r *http.Request) bool {
			return (r.Method == http.MethodPut || r.Method == http.MethodPost) && strings.Contains(r.URL.Path, "/secret/data/")
		}, false},
		{"metadata patch", "approle", func(r *http.Request) bool { return r.Method == http.MethodPatch }, false},
		{"read-back", "token", func(r *http.Request) bool { return r.URL.Query().Get("version") != "" }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			other := newElsewhere(t, f.dev.Address)
			addr := redirector(t, f.dev.Address, other.srv.URL, tc.pick)
			cfg, err := vault.ParseConfig(section(t, "sinks.vault", "{type: vault, address: "+addr+", "+f.authYAML(tc.auth)+"}"))
			if err != nil {
				t.Fatalf("vault.ParseConfig: %v", err)
			}
			s, err := vault.New(cfg, sinks.Deps{})
			if err != nil {
				t.Fatalf("vault.New: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			tg, err := s.Bind(section(t, "keys[0].sinks[0]", "{sink: vault, path: "+uniquePath("redirect")+"}"))
			if err != nil {
				t.Fatalf("s.Bind: %v", err)
			}

			const secret = "sk_live_must_not_travel"
			checkErr := s.Check(t.Context())
			if tc.checkFails {
				if checkErr == nil {
					t.Fatalf("s.Check: got no error, want one")
				}
			} else {
				if checkErr != nil {
					t.Fatalf("s.Check: %v", checkErr)
				}
			}
			_, err = tg.Write(t.Context(), write("k1", sinks.Secret{"key": secret}))
			if err == nil {
				t.Fatalf("a redirected write was reported as written: got no error, want one")
			}
			if err == nil || !strings.Contains(err.Error(), "vault answered 307 Temporary Redirect to "+other.srv.URL+": rotator follows no redirects") {
				t.Fatalf("got error %v, want one containing %q", err, "vault answered 307 Temporary Redirect to "+other.srv.URL+": rotator follows no redirects")
			}
			for _, e := range []error{checkErr, err} {
				if e != nil {
					sinktest.AssertNoSecret(t, e.Error(), append(f.secrets(), secret)...)
				}
			}
			if got := other.requests(); len(got) != 0 {
				t.Fatalf("requests reached the other origin: got %+v, want empty", got)
			}
		})
	}
}

// TestRedirectWithoutLocationIsAnError: api takes any 3xx for a success
// with an empty body (a read would say "not found"); the sink fails it.
func TestRedirectWithoutLocationIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	cfg, err := vault.ParseConfig(section(t, "sinks.vault", "{type: vault, address: "+srv.URL+", token: s.tok}"))
	if err != nil {
		t.Fatalf("vault.ParseConfig: %v", err)
	}
	s, err := vault.New(cfg, sinks.Deps{})
	if err != nil {
		t.Fatalf("vault.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	tg, err := s.Bind(section(t, "keys[0].sinks[0]", "{sink: vault, path: x/y}"))
	if err != nil {
		t.Fatalf("s.Bind: %v", err)
	}
	_, err = tg.Read(t.Context())
	if err == nil || !strings.Contains(err.Error(), "vault answered 302 Found: rotator follows no redirects") {
		t.Fatalf("tg.Read: got error %v, want one containing %q", err, "vault answered 302 Found: rotator follows no redirects")
	}
	if errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("got error %v, want one that is not %v", err, sinks.ErrNotFound)
	}
}
