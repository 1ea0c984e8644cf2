package vault_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/vault"
)

// fixture is what the tests share on the real Vault: the rotator policy,
// an AppRole role and a Kubernetes role that grant it, and a renewable
// token with it.
type fixture struct {
	dev      *devVault
	roleID   string
	secretID string
	token    string
	jwtFile  string
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

func setup(t testing.TB) *fixture {
	t.Helper()
	dev := vaultDev(t)
	fixOnce.Do(func() { fix, fixErr = newFixture(dev) })
	if fixErr != nil {
		t.Fatalf("vault fixture: %v", fixErr)
	}
	return fix
}

func newFixture(dev *devVault) (*fixture, error) {
	ctx := context.Background()
	c := dev.root
	// The least-privilege policy the README and deploy/ show.
	policy, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "policies", "vault-rotator.hcl"))
	if err != nil {
		return nil, err
	}
	if err := c.Sys().PutPolicyWithContext(ctx, "rotator", string(policy)); err != nil {
		return nil, err
	}
	if _, err := c.Logical().WriteWithContext(ctx, "auth/approle/role/rotator", map[string]any{
		"token_policies": "rotator", "token_ttl": "1h", "token_max_ttl": "4h",
	}); err != nil {
		return nil, err
	}
	rid, err := c.Logical().ReadWithContext(ctx, "auth/approle/role/rotator/role-id")
	if err != nil {
		return nil, err
	}
	sid, err := c.Logical().WriteWithContext(ctx, "auth/approle/role/rotator/secret-id", nil)
	if err != nil {
		return nil, err
	}
	ns, name, _ := strings.Cut(dev.KubernetesServiceAccount, "/")
	if _, err := c.Logical().WriteWithContext(ctx, "auth/kubernetes/role/rotator", map[string]any{
		"bound_service_account_names":      name,
		"bound_service_account_namespaces": ns,
		"token_policies":                   "rotator",
		"token_ttl":                        "1h",
	}); err != nil {
		return nil, err
	}
	tok, err := c.Auth().Token().CreateWithContext(ctx, &apiTokenRequest)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "vault-sink-test-")
	if err != nil {
		return nil, err
	}
	tmpDirs = append(tmpDirs, dir)
	jwtFile := filepath.Join(dir, "sa-token")
	if err := os.WriteFile(jwtFile, []byte(dev.KubernetesJWT), 0o600); err != nil {
		return nil, err
	}
	return &fixture{
		dev:      dev,
		roleID:   rid.Data["role_id"].(string),
		secretID: sid.Data["secret_id"].(string),
		token:    tok.Auth.ClientToken,
		jwtFile:  jwtFile,
	}, nil
}

// secrets are the credentials that must never appear in an error or a
// log line.
func (f *fixture) secrets() []string {
	return []string{f.dev.RootToken, f.secretID, f.token, f.dev.KubernetesJWT}
}

var renewable = true

// apiTokenRequest is the token the token-auth tests use: renewable, with
// the rotator policy only.
var apiTokenRequest = apiTokenRequestWith("rotator")

func apiTokenRequestWith(policy string) api.TokenCreateRequest {
	return api.TokenCreateRequest{Policies: []string{policy}, TTL: "1h", Renewable: &renewable, NoParent: true}
}

func section(t testing.TB, path, src string) config.Section {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml.Unmarshal([]byte(src), &doc): %v", err)
	}
	return config.Section{Path: path, Type: "vault", BaseDir: t.TempDir(), Node: doc.Content[0]}
}

// authYAML is the auth part of a sink section for each method under test.
func (f *fixture) authYAML(method string) string {
	switch method {
	case "approle":
		return "approle: {role_id: " + f.roleID + ", secret_id: " + f.secretID + "}"
	case "kubernetes":
		return "kubernetes: {role: rotator, service_account_token_path: " + f.jwtFile + "}"
	case "root":
		return "token: " + f.dev.RootToken
	}
	return "token: " + f.token
}

type testSink struct {
	*vault.Sink
	proxy *proxy
	logs  *observer.ObservedLogs
}

// newSink builds a sink whose address is a proxy in front of the real
// Vault. extra is more YAML for the sink section.
func newSink(t testing.TB, f *fixture, extra string, deps sinks.Deps) *testSink {
	t.Helper()
	p := newProxy(t, f.dev.Address)
	cfg, err := vault.ParseConfig(section(t, "sinks.vault", "{type: vault, address: "+p.srv.URL+", "+extra+"}"))
	if err != nil {
		t.Fatalf("vault.ParseConfig: %v", err)
	}
	var logs *observer.ObservedLogs
	if deps.Logger == nil {
		var core zapcore.Core
		core, logs = observer.New(zapcore.DebugLevel)
		deps.Logger = zap.New(core)
	}
	if deps.Clock == nil {
		deps.Clock = clockwork.NewFakeClockAt(time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC))
	}
	deps.Name = "vault"
	s, err := vault.New(cfg, deps)
	if err != nil {
		t.Fatalf("vault.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &testSink{Sink: s, proxy: p, logs: logs}
}

func bind(t testing.TB, s *testSink, path string) sinks.Target {
	t.Helper()
	tg, err := s.Bind(section(t, "keys[0].sinks[0]", "{sink: vault, path: "+path+", fields: {key: KEY}}"))
	if err != nil {
		t.Fatalf("s.Bind: %v", err)
	}
	return tg
}

func uniquePath(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "/" + hex.EncodeToString(b)
}

// proxy sits between a sink and the real Vault so that tests can make
// Vault unreachable, hang, or be written by someone else at a chosen
// moment. It forwards everything else unchanged.
type proxy struct {
	srv    *httptest.Server
	rp     *httputil.ReverseProxy
	mu     sync.Mutex
	down   bool
	stall  chan struct{} // non-nil: requests wait until it is closed
	onRead func()        // run once after a GET of a KV v2 data path is answered upstream
	paths  []string
	ns     map[string]bool // X-Vault-Namespace values seen ("" for none)
}

func newProxy(t testing.TB, upstream string) *proxy {
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatalf("url.Parse: %v", err)
	}
	p := &proxy{rp: httputil.NewSingleHostReverseProxy(u)}
	p.srv = httptest.NewServer(p)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	down, stall := p.down, p.stall
	p.paths = append(p.paths, r.Method+" "+r.URL.Path)
	if p.ns == nil {
		p.ns = map[string]bool{}
	}
	p.ns[r.Header.Get("X-Vault-Namespace")] = true
	var hook func()
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/data/") && r.URL.Query().Get("version") == "" {
		hook, p.onRead = p.onRead, nil
	}
	p.mu.Unlock()
	switch {
	case down:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"errors":["Vault is sealed"]}`)
		return
	case stall != nil:
		select {
		case <-r.Context().Done():
		case <-stall:
		}
		http.Error(w, "stalled", http.StatusBadGateway)
		return
	}
	if hook == nil {
		p.rp.ServeHTTP(w, r)
		return
	}
	// Answer the read from upstream, let the other writer in, then reply
	// with what was read: the sink acts on a state that is already stale.
	rec := httptest.NewRecorder()
	p.rp.ServeHTTP(rec, r)
	hook()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (p *proxy) namespaces() map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ns
}

func (p *proxy) saw(request string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.paths {
		if r == request {
			return true
		}
	}
	return false
}

func (p *proxy) setDown(v bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = v
}

func (p *proxy) setStall(v bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v {
		p.stall = make(chan struct{})
	} else if p.stall != nil {
		close(p.stall)
		p.stall = nil
	}
}

func (p *proxy) armRead(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onRead = f
}
