// Package vault is the `vault` sink: it writes each target's secret to a
// Vault KV secrets engine (version 2 by default, or 1) with the official
// client, github.com/hashicorp/vault/api.
//
// Contract, beyond sinks.Target:
//   - KV v2: Write reads the current version, then writes with check-and-set
//     (cas) equal to it (0 for a new secret). If someone else writes the
//     path between that read and the write, Vault refuses it and Write
//     returns an error wrapping sinks.ErrConflict: the other value is never
//     overwritten blindly. When the current data already equals the data to
//     write, nothing is written and the current version is returned, so a
//     retry is idempotent. After the write it records custom_metadata
//     (rotator_key_id, rotator_key_name, rotated_at, managed_by=rotator) with
//     a JSON merge patch of the metadata endpoint, and reads the written
//     version back to verify it. The version returned is Vault's version
//     number ("3").
//   - KV v1 has no versions: Write skips identical data, else overwrites;
//     it cannot detect concurrent modification and returns version "".
//   - Ownership: a secret that exists without rotator's marker (KV v2:
//     custom_metadata managed_by=rotator; KV v1, which has no metadata: a
//     _managed_by=rotator field in the data, which Read leaves out) is not
//     overwritten (sinks.ErrNotOwned) unless the target sets adopt: true;
//     an adopted KV v2 secret is marked before its data is written. Data
//     identical to the write's is its own earlier attempt, not foreign.
//   - Read returns the current version's data; a missing, deleted or
//     destroyed secret is sinks.ErrNotFound.
//   - Auth: a token (token_file is re-read when the token stops working,
//     as Vault Agent rewrites it), AppRole or Kubernetes. Tokens that can be
//     renewed are renewed by the api's LifetimeWatcher; when a token expires
//     or a request is denied because the token is no longer valid, the sink
//     logs in again (AppRole, Kubernetes) or re-reads token_file, and
//     retries the request once.
//   - Check looks up the token and asks sys/capabilities-self for every
//     bound path, failing with an error that names the path and the
//     missing capability.
//   - Errors and log lines never hold the token, the secret_id, the
//     service-account token or any secret value.
package vault

import (
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/vault/api"
	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/backoff"
	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
)

// Sink is a configured Vault server with its auth.
type Sink struct {
	cfg    Config
	client *api.Client
	log    *zap.Logger
	clock  clockwork.Clock
	auth   *authState

	mu      sync.Mutex
	targets []*Target
	bound   map[string]string // KV path → YAML path of the target
}

var (
	_ sinks.Sink          = (*Sink)(nil)
	_ sinks.Checker       = (*Sink)(nil)
	_ sinks.Closer        = (*Sink)(nil)
	_ sinks.Target        = (*Target)(nil)
	_ sinks.HistoryReader = (*Target)(nil)
)

// retryWait is the wait between the api client's retries of a failed
// request (5xx, connection errors); tests shorten it.
var retryWait = [2]time.Duration{time.Second, 1500 * time.Millisecond}

// New builds the client. It makes no network call: the first request logs
// in, and Check verifies the token and its capabilities.
func New(cfg Config, deps sinks.Deps) (*Sink, error) {
	log := deps.Logger
	if log == nil {
		log = zap.NewNop()
	}
	client, err := newClient(cfg, deps.UserAgent, log)
	if err != nil {
		return nil, fmt.Errorf("vault sink: %w", err)
	}
	clock := deps.Clock
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	s := &Sink{cfg: cfg, client: client, log: log, clock: clock, bound: map[string]string{}}
	s.auth = newAuthState(cfg, client, log)
	return s, nil
}

// retryBackoff is retryablehttp's Backoff for Vault requests, on rotator's
// one backoff policy (internal/backoff): min doubling up to max, with
// jitter. A Retry-After on a 429 or 503 is honoured as retryablehttp does.
func retryBackoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if s := resp.Header.Get("Retry-After"); s != "" {
			if secs, err := strconv.Atoi(s); err == nil && secs >= 0 {
				return time.Duration(secs) * time.Second
			}
		}
	}
	return backoff.Policy{Base: min, Max: max, Jitter: 0.5}.Delay(attempt+1, rand.Float64())
}

// maxRetries is how many times the api client retries a failed request
// (a 5xx, a 429, a connection error).
const maxRetries = 2

// loggedBackoff is retryBackoff that logs each retry at info as attempt n
// of max_attempts, with the request and its status when there was an
// answer. (The api client says nothing of its retries; the last attempt's
// error reaches the caller, which logs it.)
func loggedBackoff(log *zap.Logger) retryablehttp.Backoff {
	return func(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
		wait := retryBackoff(min, max, attempt, resp)
		fields := []zap.Field{zap.Int("attempt", attempt+1), zap.Int("max_attempts", maxRetries+1), zap.Duration("retry_in", wait)}
		switch {
		case resp == nil:
			fields = append(fields, zap.String("reason", "no response"))
		case resp.Request != nil:
			fields = append(fields, zap.String("method", resp.Request.Method), zap.String("path", resp.Request.URL.Path))
			fallthrough
		default:
			fields = append(fields, zap.Int("status", resp.StatusCode))
		}
		log.Info("vault request failed; retrying", fields...)
		return wait
	}
}

// newClient builds an api.Client from cfg alone: unlike api.DefaultConfig
// it ignores VAULT_* environment variables, so that nothing but the
// configuration can turn off TLS verification or pick a token.
func newClient(cfg Config, userAgent string, log *zap.Logger) (*api.Client, error) {
	hc := cleanhttp.DefaultPooledClient()
	tr := hc.Transport.(*http.Transport)
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	ac := &api.Config{
		Address:          cfg.Address,
		HttpClient:       hc,
		Timeout:          60 * time.Second,
		MinRetryWait:     retryWait[0],
		MaxRetryWait:     retryWait[1],
		MaxRetries:       maxRetries,
		Backoff:          loggedBackoff(log),
		CheckRetry:       checkRetry,
		DisableRedirects: true, // see redirect.go
	}
	if err := ac.ConfigureTLS(&api.TLSConfig{
		CACert:        cfg.CACert,
		TLSServerName: cfg.TLSServerName,
		Insecure:      cfg.TLSSkipVerify,
	}); err != nil {
		return nil, fmt.Errorf("configure tls: %w", err)
	}
	client, err := api.NewClient(ac)
	if err != nil {
		return nil, err
	}
	// After ConfigureTLS and NewClient, which need the *http.Transport.
	hc.Transport = refuseRedirects{next: tr}
	client.ClearToken() // NewClient takes VAULT_TOKEN from the environment
	client.ClearNamespace()
	if cfg.Namespace != "" {
		client.SetNamespace(cfg.Namespace)
	}
	if userAgent != "" {
		client.AddHeader("User-Agent", userAgent)
	}
	return client, nil
}

// Type implements sinks.Sink.
func (s *Sink) Type() string { return "vault" }

// Bind implements sinks.Sink.
func (s *Sink) Bind(target config.Section) (sinks.Target, error) {
	tc, err := parseTarget(target, s.cfg.KVVersion)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if other, ok := s.bound[tc.Path]; ok {
		return nil, target.Errorf("path", "%s/%s is already written by %s", s.cfg.Mount, tc.Path, other)
	}
	s.bound[tc.Path] = target.Path
	t := &Target{sink: s, path: tc.Path, adopt: tc.Adopt, yamlPath: target.Path}
	s.targets = append(s.targets, t)
	return t, nil
}

// Close stops the token renewer.
func (s *Sink) Close() error {
	s.auth.close()
	return nil
}

func (s *Sink) dataPath(p string) string {
	if s.cfg.KVVersion == 1 {
		return s.cfg.Mount + "/" + p
	}
	return s.cfg.Mount + "/data/" + p
}

func (s *Sink) metadataPath(p string) string { return s.cfg.Mount + "/metadata/" + p }
