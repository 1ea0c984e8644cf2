// Package smtpd manages smtpd.dev API keys (`type: smtpd`).
//
// The management login (an owner/admin user, or an API key+secret pair if
// the account allows it) is exchanged for a bearer token with the OAuth
// password grant; the token is cached until shortly before it expires,
// renewed with its refresh token, and a 401 makes the provider log in again.
// Keys are created with a role (params.role: iac, standard, read_only or
// send_only) and their credential, pushed to sinks, is {key, secret}. Keys
// are always addressed by id: key strings contain '+', '/' and '='.
//
// smtpd.dev revokes keys unused for 90 days. Test logs in with the key's
// own key:secret (which smtpd records as a use), makes one cheap read with
// the resulting token, and reads last_accessed_at_utc back through the
// management login. Verify, for a key just created, is the login alone.
package smtpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// Roles are the roles an API key may be created with.
var Roles = []string{"iac", "standard", "read_only", "send_only"}

// IdleRevocation is how long smtpd.dev lets a key go unused before it
// revokes it.
const IdleRevocation = 90 * 24 * time.Hour

const keysPath = "/api/v1/account/api_key"

// Provider is a configured smtpd.dev account.
type Provider struct {
	name     string
	listMax  int
	http     *httpapi.Client
	username string
	password string
	clock    clockwork.Clock
	log      *zap.Logger
	auth     *authenticator
}

var (
	_ providers.Provider      = (*Provider)(nil)
	_ providers.IdleRevoker   = (*Provider)(nil)
	_ providers.UsageReporter = (*Provider)(nil)
	_ providers.Verifier      = (*Provider)(nil)
)

// New builds the provider; it makes no network call.
func New(cfg Config, deps providers.Deps, opts ...httpapi.Option) (*Provider, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.Username == "" || cfg.Password == "" {
		return nil, fmt.Errorf("smtpd: username and password are required")
	}
	if deps.Clock == nil {
		deps.Clock = clockwork.NewRealClock()
	}
	if deps.Logger == nil {
		deps.Logger = zap.NewNop()
	}
	c, err := httpapi.New(cfg.Config, DefaultRateLimit, deps, decodeError, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtpd: %w", err)
	}
	p := &Provider{
		name:     deps.Name,
		listMax:  cfg.ListLimit(),
		http:     c,
		username: cfg.Username,
		password: cfg.Password.Reveal(),
		clock:    deps.Clock,
		log:      deps.Logger,
	}
	p.auth = newAuthenticator(p)
	return p, nil
}

// Type returns "smtpd".
func (p *Provider) Type() string { return "smtpd" }

// IdleRevocationAfter returns 90 days.
func (p *Provider) IdleRevocationAfter() time.Duration { return IdleRevocation }

// UsageResolution is a second: last_accessed_at_utc is in unix seconds.
func (p *Provider) UsageResolution() time.Duration { return time.Second }

// CredentialFields returns key and secret.
func (p *Provider) CredentialFields() []string { return []string{"key", "secret"} }

// ValidateParams requires params.role, one of Roles, and nothing else.
func (p *Provider) ValidateParams(params map[string]string) error {
	return ValidateParams(params)
}

// ValidateParams is Provider.ValidateParams without a provider.
func ValidateParams(params map[string]string) error {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "role" {
			return fmt.Errorf("%s: unknown param (smtpd keys take only role)", k)
		}
	}
	role, ok := params["role"]
	if !ok || role == "" {
		return fmt.Errorf("role: is required, one of %s", strings.Join(Roles, ", "))
	}
	for _, r := range Roles {
		if r == role {
			return nil
		}
	}
	return fmt.Errorf("role: %q is not one of %s", role, strings.Join(Roles, ", "))
}

// Create makes a key called name with params.role. It is not retried on a
// 5xx or a dropped connection (the key may exist: the engine lists by name);
// a 429 is retried since the server did not act on it.
func (p *Provider) Create(ctx context.Context, name string, params map[string]string) (providers.Key, error) {
	if err := ValidateParams(params); err != nil {
		return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonClient, Err: err}
	}
	if strings.TrimSpace(name) == "" {
		return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonClient, Message: "name is empty"}
	}
	resp, err := p.call(ctx, httpapi.Request{Op: "create", Method: http.MethodPost, Path: keysPath,
		Body: map[string]string{"name": name, "role": params["role"]}, RetryRateLimited: true})
	if err != nil {
		return providers.Key{}, err
	}
	key, err := decodeCreate(resp.Body)
	if err != nil {
		return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonClient, Status: resp.Status, Err: err}
	}
	if key.Name == "" {
		key.Name = name
	}
	p.log.Debug("created api key", zap.String("key_id", key.ID), zap.String("key_name", key.Name), zap.String("role", params["role"]))
	return key, nil
}

// Get returns one key's metadata; an unknown id is IsNotFound.
func (p *Provider) Get(ctx context.Context, id string) (providers.KeyInfo, error) {
	path, err := keyPath("get", id)
	if err != nil {
		return providers.KeyInfo{}, err
	}
	resp, err := p.call(ctx, httpapi.Request{Op: "get", Method: http.MethodGet, Path: path, Idempotent: true})
	if err != nil {
		return providers.KeyInfo{}, err
	}
	info, err := decodeKey(resp.Body)
	if err != nil {
		return providers.KeyInfo{}, &providers.Error{Op: "get", Reason: providers.ReasonClient, Status: resp.Status, Err: err}
	}
	return info, nil
}

// List returns the keys whose name starts with prefix. smtpd.dev does not
// filter or paginate: the whole list comes back, and grows with the
// account (about 350 bytes a key, revoked keys included). It is decoded
// while it arrives, keeping only the keys named prefix*, so memory grows
// with those (at most list_max_keys of them), not with the response, which
// may be up to httpapi.ListMaxBytes.
func (p *Provider) List(ctx context.Context, prefix string) ([]providers.KeyInfo, error) {
	var keys []providers.KeyInfo
	var tooMany bool
	_, err := p.call(ctx, httpapi.Request{Op: "list", Method: http.MethodGet, Path: keysPath, Idempotent: true,
		MaxBody: httpapi.ListMaxBytes, Stream: func(r io.Reader) error {
			var err error
			keys, err = decodeListStream(r, prefix, p.listMax)
			tooMany = errors.Is(err, errTooManyKeys)
			return err
		}})
	switch {
	case tooMany:
		return nil, httpapi.TooManyKeys(p.name, p.listMax, prefix)
	case err != nil:
		return nil, err
	}
	return keys, nil
}

// Revoke revokes the key. An unknown key, or one the server refuses to
// revoke because it is no longer active, counts as revoked. Create and
// Revoke log at debug only: the engine logs each step once, at info ("key
// created", "old key revoked").
func (p *Provider) Revoke(ctx context.Context, id string) error {
	path, err := keyPath("revoke", id)
	if err != nil {
		if providers.IsNotFound(err) {
			return nil
		}
		return err
	}
	_, err = p.call(ctx, httpapi.Request{Op: "revoke", Method: http.MethodPut, Path: path + "/revoke", Idempotent: true})
	switch {
	case err == nil:
		p.log.Debug("revoked api key", zap.String("key_id", id))
		return nil
	case providers.IsNotFound(err):
		p.log.Debug("api key already gone", zap.String("key_id", id))
		return nil
	case providers.ReasonOf(err) != providers.ReasonClient:
		return err
	}
	// A 4xx other than 404: maybe "already revoked". Look.
	info, gerr := p.Get(ctx, id)
	if providers.IsNotFound(gerr) || (gerr == nil && !info.Active) {
		p.log.Debug("api key already revoked", zap.String("key_id", id))
		return nil
	}
	return err
}

// Test logs in with the key's own key:secret (a use of the key, which
// smtpd records), reads GET /oauth/me with that token, then returns the
// key's metadata read through the management login, with last_accessed_at
// as LastUsedAt. A rejected credential returns ReasonAuth; when the key is
// then found inactive, Test returns its metadata (Active false) along with
// that error.
func (p *Provider) Test(ctx context.Context, id string, cred providers.Credential) (providers.KeyInfo, error) {
	key, secret := cred["key"], cred["secret"]
	if key == "" || secret == "" {
		return providers.KeyInfo{}, &providers.Error{Op: "test", Reason: providers.ReasonClient, Message: "credential needs key and secret"}
	}
	tok, err := p.login(ctx, "test", key, secret)
	if err != nil {
		if providers.ReasonOf(err) == providers.ReasonAuth {
			// Say why when the provider can: a key revoked for inactivity
			// that is still in use is an emergency for the engine.
			if info, gerr := p.Get(ctx, id); gerr == nil && !info.Active {
				return info, &providers.Error{Op: "test", Reason: providers.ReasonAuth,
					Message: "key is inactive at smtpd.dev (revoked, or unused for 90 days)", Err: err}
			}
		}
		return providers.KeyInfo{}, err
	}
	_, err = p.http.Do(ctx, httpapi.Request{Op: "test", Method: http.MethodGet, Path: "/oauth/me",
		Header: httpapi.AuthHeader(httpapi.Bearer(tok.access)), Idempotent: true,
		Secrets: []string{key, secret, tok.refresh, p.password}})
	if err != nil {
		return providers.KeyInfo{}, err
	}
	return p.Get(ctx, id)
}

// Verify logs in with the key's own key:secret (the password grant) and
// nothing else: smtpd.dev refuses the login (403, code 40102) for a wrong
// secret and for a revoked or inactive key, so a token proves the key
// works. The token is dropped at once: it is not the management token, is
// never cached, logged or returned, and expires on its own. A refused login
// returns ReasonAuth.
func (p *Provider) Verify(ctx context.Context, id string, cred providers.Credential) error {
	key, secret := cred["key"], cred["secret"]
	if key == "" || secret == "" {
		return &providers.Error{Op: "verify", Reason: providers.ReasonClient, Message: "credential needs key and secret"}
	}
	if _, err := p.login(ctx, "verify", key, secret); err != nil {
		return err
	}
	p.log.Debug("api key verified", zap.String("key_id", id))
	return nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// keyPath is the URL path of a key; an id that no key can have is
// not_found without a request.
func keyPath(op, id string) (string, error) {
	if !idPattern.MatchString(id) {
		return "", &providers.Error{Op: op, Reason: providers.ReasonNotFound, Message: "malformed key id"}
	}
	return keysPath + "/" + id, nil
}
