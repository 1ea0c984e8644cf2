package smtpd

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// authenticator caches the management token. One goroutine at a time
// renews it; the others wait for that renewal (or their ctx).
type authenticator struct {
	p   *Provider
	sem chan struct{}

	mu      sync.Mutex
	tok     token
	renewAt time.Time
}

func newAuthenticator(p *Provider) *authenticator {
	return &authenticator{p: p, sem: make(chan struct{}, 1)}
}

// renewMargin is how long before expiry a token is renewed: a fifth of its
// life, at most 5 minutes.
func renewMargin(life time.Duration) time.Duration {
	return min(life/5, 5*time.Minute)
}

func (a *authenticator) cached() (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok.access != "" && a.p.clock.Now().Before(a.renewAt) {
		return a.tok.access, true
	}
	return "", false
}

// bearer returns a valid management access token, logging in or
// refreshing when needed.
func (a *authenticator) bearer(ctx context.Context) (string, error) {
	if tok, ok := a.cached(); ok {
		return tok, nil
	}
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return "", &providers.Error{Op: "login", Reason: providers.ReasonTimeout, Err: ctx.Err()}
	}
	defer func() { <-a.sem }()
	if tok, ok := a.cached(); ok {
		return tok, nil
	}
	a.mu.Lock()
	refresh := a.tok.refresh
	a.mu.Unlock()
	if refresh != "" {
		tok, err := a.p.refresh(ctx, refresh)
		if err == nil {
			a.store(tok)
			a.p.log.Debug("refreshed management token", zap.Time("expires_at", tok.expiry))
			return tok.access, nil
		}
		if ctx.Err() != nil {
			return "", err
		}
		a.p.log.Debug("refresh failed, logging in again", zap.Error(err))
	}
	tok, err := a.p.login(ctx, "login", a.p.username, a.p.password)
	if err != nil {
		return "", err
	}
	a.store(tok)
	a.p.log.Debug("logged in", zap.Time("expires_at", tok.expiry))
	return tok.access, nil
}

func (a *authenticator) store(tok token) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.p.clock.Now()
	a.tok = tok
	a.renewAt = tok.expiry.Add(-renewMargin(tok.expiry.Sub(now)))
}

// reject forgets tok after a 401, with its refresh token, so that the next
// call logs in again.
func (a *authenticator) reject(tok string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok.access == tok {
		a.tok = token{}
	}
}

// call makes an authenticated management request; on a 401 it logs in
// again and sends the request once more (a 401 means it was not acted on).
func (p *Provider) call(ctx context.Context, req httpapi.Request) (*httpapi.Response, error) {
	for attempt := 0; ; attempt++ {
		tok, err := p.auth.bearer(ctx)
		if err != nil {
			return nil, err
		}
		req.Header = httpapi.AuthHeader(httpapi.Bearer(tok))
		// A message that quotes the management password is scrubbed on
		// every call, not only on the login that sends it.
		req.Secrets = append(slices.Clip(req.Secrets), p.password)
		resp, err := p.http.Do(ctx, req)
		if err != nil && attempt == 0 && resp != nil && resp.Status == http.StatusUnauthorized {
			p.log.Debug("management token rejected, logging in again", zap.String("op", req.Op))
			p.auth.reject(tok)
			continue
		}
		return resp, err
	}
}

// login is the OAuth password grant with Basic user:password, empty body.
func (p *Provider) login(ctx context.Context, op, user, password string) (token, error) {
	resp, err := p.http.Do(ctx, httpapi.Request{Op: op, Method: http.MethodPost, Path: "/oauth/token",
		Query:      url.Values{"grant_type": {"password"}},
		Header:     http.Header{"Authorization": {httpapi.BasicAuth(user, password)}, "Content-Type": {"application/json"}},
		Idempotent: true})
	if err != nil {
		return token{}, err
	}
	tok, err := decodeToken(resp.Body, p.clock.Now())
	if err != nil {
		return token{}, &providers.Error{Op: op, Reason: providers.ReasonClient, Status: resp.Status, Err: err}
	}
	return tok, nil
}

// refresh is the refresh_token grant.
func (p *Provider) refresh(ctx context.Context, refresh string) (token, error) {
	resp, err := p.http.Do(ctx, httpapi.Request{Op: "login", Method: http.MethodPost, Path: "/oauth/token",
		Query: url.Values{"grant_type": {"refresh_token"}}, Body: map[string]string{"refresh_token": refresh},
		Secrets: []string{refresh, p.password}, Idempotent: true})
	if err != nil {
		return token{}, err
	}
	tok, err := decodeToken(resp.Body, p.clock.Now())
	if err != nil {
		return token{}, &providers.Error{Op: "login", Reason: providers.ReasonClient, Status: resp.Status, Err: err}
	}
	if tok.refresh == "" {
		tok.refresh = refresh
	}
	return tok, nil
}
