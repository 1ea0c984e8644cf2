package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"
	"github.com/hashicorp/vault/api/auth/kubernetes"
	"go.uber.org/zap"
)

// authState owns the client's token: it logs in lazily before the first
// request, keeps the token renewed with the api's LifetimeWatcher, and logs
// in again when the token is found expired. Each successful login bumps
// gen, so that requests that failed with the same old token trigger one
// login between them, not one each.
type authState struct {
	cfg    Config
	client *api.Client
	log    *zap.Logger

	// login serialises logins; it is taken with the caller's context, so
	// that a caller waiting behind a slow login can still give up.
	login chan struct{}

	mu      sync.Mutex // guards what follows; never held across a request
	gen     uint64
	valid   bool
	closed  bool
	watcher *api.LifetimeWatcher
}

func newAuthState(cfg Config, client *api.Client, log *zap.Logger) *authState {
	return &authState{cfg: cfg, client: client, log: log, login: make(chan struct{}, 1)}
}

// ensure logs in unless the current token is believed valid, and returns
// the token's generation.
func (a *authState) ensure(ctx context.Context) (uint64, error) {
	if gen, ok, err := a.current(); ok || err != nil {
		return gen, err
	}
	select {
	case a.login <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-a.login }()
	if gen, ok, err := a.current(); ok || err != nil {
		return gen, err // another caller logged in meanwhile
	}
	method := a.cfg.AuthMethod()
	secret, err := a.authenticate(ctx, method)
	if err != nil {
		return 0, fmt.Errorf("vault %s login: %w", method, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return 0, errors.New("vault sink is closed")
	}
	a.stopWatcherLocked()
	a.gen++
	a.valid = true
	ttl, renewable := 0, false
	if secret != nil && secret.Auth != nil {
		ttl, renewable = secret.Auth.LeaseDuration, secret.Auth.Renewable
	}
	a.log.Info("vault login", zap.String("auth_method", method), zap.Int("ttl_seconds", ttl), zap.Bool("renewable", renewable))
	if ttl > 0 {
		a.startWatcherLocked(secret, a.gen)
	}
	return a.gen, nil
}

func (a *authState) current() (gen uint64, valid bool, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return 0, false, errors.New("vault sink is closed")
	}
	return a.gen, a.valid, nil
}

// expired reports that the token of generation gen no longer works: the
// next ensure logs in again, unless another caller already did.
func (a *authState) expired(gen uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gen == gen && a.valid {
		a.valid = false
		a.stopWatcherLocked()
	}
}

func (a *authState) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	a.valid = false
	a.stopWatcherLocked()
}

func (a *authState) stopWatcherLocked() {
	if a.watcher != nil {
		a.watcher.Stop()
		a.watcher = nil
	}
}

// authenticate gets a token with the configured method and installs it in
// the client.
func (a *authState) authenticate(ctx context.Context, method string) (*api.Secret, error) {
	switch method {
	case "approle":
		return a.loginAppRole(ctx)
	case "kubernetes":
		return a.loginKubernetes(ctx)
	}
	return a.useToken(ctx)
}

// startWatcherLocked renews a renewable token until its max TTL, and for
// any token with a TTL marks it expired shortly before it ends, so that the
// next request logs in first.
func (a *authState) startWatcherLocked(secret *api.Secret, gen uint64) {
	w, err := a.client.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: secret})
	if err != nil {
		a.log.Warn("vault token renewer not started", zap.Error(err))
		return
	}
	a.watcher = w
	go w.Start()
	go func() {
		for {
			select {
			case err := <-w.DoneCh():
				a.mu.Lock()
				current := a.watcher == w
				a.mu.Unlock()
				if !current { // stopped by Close or a new login
					return
				}
				if err != nil {
					a.log.Warn("vault token renewal stopped", zap.Error(describe(err)))
				} else {
					a.log.Info("vault token reaches its max ttl, will log in again")
				}
				a.expired(gen)
				return
			case r := <-w.RenewCh():
				ttl := 0
				if r != nil && r.Secret != nil && r.Secret.Auth != nil {
					ttl = r.Secret.Auth.LeaseDuration
				}
				a.log.Debug("vault token renewed", zap.Int("ttl_seconds", ttl))
			}
		}
	}()
}

func (a *authState) useToken(ctx context.Context) (*api.Secret, error) {
	token := a.cfg.Token.Reveal()
	if a.cfg.TokenFile != "" {
		b, err := os.ReadFile(a.cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("read token_file: %w", err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return nil, fmt.Errorf("token_file %s is empty", a.cfg.TokenFile)
		}
	}
	a.client.SetToken(token)
	self, err := a.client.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", describe(err))
	}
	auth := &api.SecretAuth{ClientToken: token}
	if self != nil {
		if r, ok := self.Data["renewable"].(bool); ok {
			auth.Renewable = r
		}
		if n, ok := self.Data["ttl"].(json.Number); ok {
			if v, err := n.Int64(); err == nil {
				auth.LeaseDuration = int(v)
			}
		}
	}
	return &api.Secret{Auth: auth}, nil
}

func (a *authState) loginAppRole(ctx context.Context) (*api.Secret, error) {
	ar := a.cfg.AppRole
	sid := &approle.SecretID{FromString: ar.SecretID.Reveal()}
	if ar.SecretIDFile != "" {
		sid = &approle.SecretID{FromFile: ar.SecretIDFile}
	}
	m, err := approle.NewAppRoleAuth(ar.RoleID, sid, approle.WithMountPath(ar.MountPath))
	if err != nil {
		return nil, err
	}
	return a.loginWith(ctx, m)
}

func (a *authState) loginKubernetes(ctx context.Context) (*api.Secret, error) {
	k := a.cfg.Kubernetes
	// A new KubernetesAuth reads the token file again: Kubernetes rotates
	// projected service account tokens.
	m, err := kubernetes.NewKubernetesAuth(k.Role, kubernetes.WithServiceAccountTokenPath(k.TokenPath), kubernetes.WithMountPath(k.MountPath))
	if err != nil {
		return nil, err
	}
	return a.loginWith(ctx, m)
}

// loginWith runs an auth method without sending the old token along, and
// installs the new one.
func (a *authState) loginWith(ctx context.Context, m api.AuthMethod) (*api.Secret, error) {
	a.client.ClearToken()
	secret, err := m.Login(ctx, a.client)
	if err != nil {
		return nil, describe(err)
	}
	if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
		return nil, errors.New("login response holds no token")
	}
	a.client.SetToken(secret.Auth.ClientToken)
	return secret, nil
}

// do runs op with a valid token: it logs in first when needed, and when op
// is denied because the token no longer works (expired, revoked), logs in
// again (AppRole, Kubernetes) or re-reads token_file, and retries op once.
// A denial with a token that still works is a policy matter and returned
// as is.
func (s *Sink) do(ctx context.Context, op func(ctx context.Context) error) error {
	gen, err := s.auth.ensure(ctx)
	if err != nil {
		return err
	}
	err = op(ctx)
	if !isPermissionDenied(err) {
		return err
	}
	if _, lerr := s.client.Auth().Token().LookupSelfWithContext(ctx); !isPermissionDenied(lerr) {
		return err
	}
	s.log.Warn("vault token no longer valid, logging in again", zap.String("auth_method", s.cfg.AuthMethod()))
	s.auth.expired(gen)
	if _, err := s.auth.ensure(ctx); err != nil {
		return err
	}
	return op(ctx)
}
