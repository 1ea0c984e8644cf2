package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/rotator-dev/rotator/internal/testing/vaulttest"
)

// elsewhere is another origin that records every request it receives
// (method, path, token, body) and, as an attacker in the middle would,
// forwards it to the real Vault so that a followed redirect succeeds.
type elsewhere struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string
}

func newElsewhere(t *testing.T, vaultAddr string) *elsewhere {
	u, err := url.Parse(vaultAddr)
	must(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	e := &elsewhere{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.seen = append(e.seen, r.Method+" "+r.URL.Path+" token="+r.Header.Get("X-Vault-Token")+" body="+string(body))
		e.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		rp.ServeHTTP(rw, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *elsewhere) requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seen...)
}

// TestVaultRedirectToAnotherOrigin (finding 6): the daemon writes the
// smtpd key to a real Vault (token auth, the least-privilege policy of
// deploy/policies) through a proxy that, for a while, answers every
// request with 307 to another origin. Nothing (token, secret) reaches the
// other origin; the rotations fail visibly (metric and log); no key is
// revoked while Vault cannot be read; once the proxy forwards again, the
// key rotates.
func TestVaultRedirectToAnotherOrigin(t *testing.T) {
	t.Parallel()
	dev := vaulttest.Require(t)
	policy, err := os.ReadFile(filepath.Join("..", "..", "deploy", "policies", "vault-rotator.hcl"))
	must(t, err)
	must(t, dev.Root.Sys().PutPolicyWithContext(t.Context(), "rotator-e2e", string(policy)))
	tok, err := dev.Root.Auth().Token().CreateWithContext(t.Context(), &api.TokenCreateRequest{Policies: []string{"rotator-e2e"}, TTL: "1h"})
	must(t, err)
	token := tok.Auth.ClientToken

	other := newElsewhere(t, dev.Address)
	var redirect atomic.Bool
	up, err := url.Parse(dev.Address)
	must(t, err)
	rp := httputil.NewSingleHostReverseProxy(up)
	front := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if redirect.Load() {
			http.Redirect(rw, r, other.srv.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			return
		}
		rp.ServeHTTP(rw, r)
	}))
	t.Cleanup(front.Close)

	w := newWorld(t, fastPolicy())
	must(t, os.WriteFile(filepath.Join(w.dir, "vt"), []byte(token+"\n"), 0o600))
	path := "e2e/redirect-" + randomHex(4) + "/mail"
	cfg, err := os.ReadFile(w.config)
	must(t, err)
	text := strings.Replace(string(cfg), "sinks:\n", "sinks:\n  vault: {type: vault, address: "+front.URL+", token_file: ./vt}\n", 1)
	text = strings.Replace(text, "sinks: [{sink: out, path: mail.json}", "sinks: [{sink: vault, path: "+path+"}, {sink: out, path: mail.json}", 1)
	must(t, os.WriteFile(w.config, []byte(text), 0o600))

	p := w.daemon(t)
	_, m := p.get(t, "/metrics")
	fail0, mail0 := metric(m, "rotator_rotations_total", `key="mail"`, `result="failure"`), successes(m, "mail")
	redirect.Store(true)
	eventually(t, 30*time.Second, "a redirected rotation fails and says why", func() bool {
		_, m := p.get(t, "/metrics")
		return metric(m, "rotator_rotations_total", `key="mail"`, `result="failure"`) > fail0 &&
			strings.Contains(p.logText(), "rotator follows no redirects")
	})
	_, m = p.get(t, "/metrics")
	mail1 := successes(m, "mail")
	active := map[string]bool{}
	for _, k := range w.smtpd.Keys() {
		if k.Active {
			active[k.ID] = true
		}
	}
	// A duration, not a wait for something: the fault lasts two schedule
	// periods, past the grace, so that a wrong success or revocation has
	// its chance.
	time.Sleep(6 * time.Second)
	if p.exited() {
		t.Fatalf("rotator exited:\n%s", tail(p.log))
	}
	_, m = p.get(t, "/metrics")
	if got := successes(m, "mail"); got != mail1 {
		t.Errorf("%v rotations of mail counted as successes while every Vault request was redirected", got-mail1)
	}
	for _, k := range w.smtpd.Keys() {
		if active[k.ID] && !k.Active {
			t.Errorf("key %s was revoked while Vault could not be read", k.ID)
		}
	}
	fails := metric(m, "rotator_rotations_total", `key="mail"`, `result="failure"`) - fail0
	redirect.Store(false)
	eventually(t, 30*time.Second, "mail rotates once Vault answers again", func() bool {
		_, m := p.get(t, "/metrics")
		return successes(m, "mail") > max(mail0, mail1)
	})
	p.signal(syscall.SIGTERM)
	if st := p.wait(t, 20*time.Second); st.ExitCode() != 0 {
		t.Errorf("SIGTERM: exit %s, want 0", st)
	}
	if seen := other.requests(); len(seen) > 0 {
		t.Errorf("%d requests reached the other origin, the first: %.200s", len(seen), seen[0])
	}
	if u := w.untracked(t); len(u) > 0 {
		t.Errorf("untracked keys: %v", u)
	}
	w.secretParts(t, token)
	t.Logf("E2E-FIGURES test=vault-redirect failed_rotations=%v other_origin_requests=%d", fails, len(other.requests()))
}
