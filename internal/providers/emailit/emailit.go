// Package emailit is the provider for Emailit API keys (type: emailit),
// through Emailit's API v2:
//
//	create  POST   /v2/api-keys {name, scope, sending_domain_id} → 201 with the one-time key
//	get     GET    /v2/api-keys/{id}
//	list    GET    /v2/api-keys?limit=100, following next_page_url until null
//	revoke  DELETE /v2/api-keys/{id} (404 counts as already revoked)
//
// Every call carries the management key, a `full`-scope key, as
// "Authorization: Bearer"; only full keys may manage keys. Key params are
// `scope` (full by default; sending, events or any scope Emailit adds) and
// `sending_domain_id` (an integer or a "dom_…" id, for non-full keys). The
// credential pushed to sinks is {"api_key": ...}.
//
// Responses are decoded tolerantly (ids as numbers or strings, booleans as
// 0/1, several timestamp formats, `error` as a string or an object), since
// the documentation and production disagree; see flex.go and decode.go.
//
// Emailit documents no revocation of idle keys, so the provider does not
// implement providers.IdleRevoker.
package emailit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// CredentialField is the credential field pushed to sinks.
const CredentialField = "api_key"

const (
	keysPath = "/v2/api-keys"
	pageSize = "100" // the documented maximum
)

// Provider manages the API keys of one Emailit workspace. It is safe for
// concurrent use; all calls share the workspace's rate limit.
type Provider struct {
	name    string
	listMax int
	// listBytes bounds the bytes of one List call (httpapi.ListMaxBytes).
	listBytes int64
	client    *httpapi.Client
	auth      http.Header // the management key, as a Bearer header
	log       *zap.Logger
}

var (
	_ providers.Provider      = (*Provider)(nil)
	_ providers.Verifier      = (*Provider)(nil)
	_ providers.UsageReporter = (*Provider)(nil)
)

// New builds a provider from a parsed Config. It makes no network call.
func New(cfg Config, deps providers.Deps) (*Provider, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("emailit: api_key is empty")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if err := checkBasePath(cfg.BaseURL); err != nil {
		return nil, fmt.Errorf("emailit: base_url: %w", err)
	}
	client, err := httpapi.New(cfg.Config, DefaultRateLimit, deps, decodeError)
	if err != nil {
		return nil, fmt.Errorf("emailit: %w", err)
	}
	log := deps.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Provider{
		name:      deps.Name,
		listMax:   cfg.ListLimit(),
		listBytes: httpapi.ListMaxBytes,
		client:    client,
		auth:      httpapi.AuthHeader(httpapi.Bearer(cfg.APIKey.Reveal())),
		log:       log,
	}, nil
}

// Type returns "emailit".
func (p *Provider) Type() string { return "emailit" }

// UsageResolution is a second: last_used_at is ISO-8601 to the second.
func (p *Provider) UsageResolution() time.Duration { return time.Second }

// CredentialFields returns api_key.
func (p *Provider) CredentialFields() []string { return []string{CredentialField} }

var (
	scopePattern  = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	domainInteger = regexp.MustCompile(`^[1-9][0-9]{0,17}$`)
	domainString  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)
	knownParams   = []string{"scope", "sending_domain_id"}
)

// ValidateParams checks a key's params: scope (full, sending, events, or
// another lowercase scope name Emailit may add; default full) and
// sending_domain_id (a positive integer or an id such as dom_abc, only for
// keys that are not full: Emailit ignores it on full keys).
func (p *Provider) ValidateParams(params map[string]string) error {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !slices.Contains(knownParams, k) {
			return fmt.Errorf("unknown param %q (known: %s)", k, strings.Join(knownParams, ", "))
		}
	}
	scope, hasScope := params["scope"]
	if hasScope && !scopePattern.MatchString(scope) {
		if scope == "" {
			return errors.New("scope: must not be empty (full, sending or events)")
		}
		return fmt.Errorf("scope: %q is not a scope name (full, sending, events, ...)", scope)
	}
	if scope == "full_access" {
		// Emailit's SDK snippets show Scope: "full_access"; the API documents full.
		return errors.New(`scope: "full_access" appears in Emailit's SDK examples, but the API's scope is "full"`)
	}
	if scope == "" {
		scope = "full"
	}
	if d, ok := params["sending_domain_id"]; ok {
		if !domainInteger.MatchString(d) && !domainString.MatchString(d) {
			return fmt.Errorf("sending_domain_id: %q is neither a positive integer nor a domain id such as dom_abc123", d)
		}
		if scope == "full" {
			return errors.New("sending_domain_id: only applies to sending keys; set scope: sending (Emailit ignores it on full keys)")
		}
	}
	return nil
}

// createRequest is the body of POST /v2/api-keys.
type createRequest struct {
	Name            string `json:"name"`
	Scope           string `json:"scope"`
	SendingDomainID any    `json:"sending_domain_id,omitempty"`
}

// Create makes a key called name. On 409 (an earlier create with this name
// succeeded) the *providers.Error has Reason conflict; the engine finds
// the key by name with List. A 429 is retried (the request was refused, so it
// cannot have taken effect); a dropped connection or timeout returns Reason
// timeout, and the key may exist.
func (p *Provider) Create(ctx context.Context, name string, params map[string]string) (providers.Key, error) {
	if err := p.ValidateParams(params); err != nil {
		return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonClient, Err: err}
	}
	if strings.TrimSpace(name) == "" {
		return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonClient, Err: errors.New("empty key name")}
	}
	body := createRequest{Name: name, Scope: params["scope"]}
	if body.Scope == "" {
		body.Scope = "full"
	}
	if d := params["sending_domain_id"]; d != "" {
		if domainInteger.MatchString(d) {
			body.SendingDomainID = json.Number(d)
		} else {
			body.SendingDomainID = d
		}
	}
	resp, err := p.client.Do(ctx, httpapi.Request{Op: "create", Method: http.MethodPost, Path: keysPath,
		Header: p.auth, Body: body, RetryRateLimited: true})
	if err != nil {
		return providers.Key{}, err
	}
	o, err := decodeKey(resp.Body)
	if err == nil && o.Key == "" {
		err = errors.New("response has no key")
	}
	if err != nil {
		// The key may exist without its secret: the engine finds it by name.
		return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonClient, Status: resp.Status,
			Err: fmt.Errorf("key %q may exist without its secret: %w", name, err)}
	}
	info := o.info()
	if info.Name == "" {
		info.Name = name
	}
	p.log.Debug("api key created", zap.String("key_id", info.ID), zap.String("key_name", info.Name),
		zap.String("scope", string(o.Scope)))
	return providers.Key{KeyInfo: info, Credential: providers.Credential{CredentialField: string(o.Key)}}, nil
}

// Get returns a key's metadata; a missing key is a not_found error.
func (p *Provider) Get(ctx context.Context, id string) (providers.KeyInfo, error) {
	o, err := p.get(ctx, "get", id)
	if err != nil {
		return providers.KeyInfo{}, err
	}
	return o.info(), nil
}

func (p *Provider) get(ctx context.Context, op, id string) (apiKeyObject, error) {
	if strings.TrimSpace(id) == "" {
		return apiKeyObject{}, &providers.Error{Op: op, Reason: providers.ReasonClient, Err: errors.New("empty key id")}
	}
	resp, err := p.client.Do(ctx, httpapi.Request{Op: op, Method: http.MethodGet,
		Path: keysPath + "/" + url.PathEscape(id), Header: p.auth, Idempotent: true})
	if err != nil {
		return apiKeyObject{}, err
	}
	o, err := decodeKey(resp.Body)
	if err != nil {
		return apiKeyObject{}, &providers.Error{Op: op, Reason: providers.ReasonClient, Status: resp.Status, Err: err}
	}
	return o, nil
}

// List returns every key whose name starts with prefix, following
// next_page_url (an absolute URL or a path) until it is null. A key seen
// on two pages (keys created while paging) is returned once. A workspace
// that answers without end costs at most httpapi.ListMaxPages pages,
// httpapi.ListMaxBytes and list_max_keys keys.
func (p *Provider) List(ctx context.Context, prefix string) ([]providers.KeyInfo, error) {
	var out []providers.KeyInfo
	seenIDs := map[string]bool{}
	seenPages := map[string]bool{}
	path, query := keysPath, url.Values{"limit": {pageSize}}
	var read int64
	for pages := 1; ; pages++ {
		resp, err := p.client.Do(ctx, httpapi.Request{Op: "list", Method: http.MethodGet, Path: path,
			Query: query, Header: p.auth, Idempotent: true})
		if err != nil {
			return nil, err
		}
		if read += int64(len(resp.Body)); read > p.listBytes {
			return nil, httpapi.ListTooLong(p.name, fmt.Sprintf("%d MiB over %d pages", p.listBytes>>20, pages))
		}
		page, err := decodeList(resp.Body)
		if err != nil {
			return nil, &providers.Error{Op: "list", Reason: providers.ReasonClient, Status: resp.Status,
				Err: fmt.Errorf("page %d: %w", pages, err)}
		}
		for _, o := range page.Data {
			if !strings.HasPrefix(string(o.Name), prefix) || seenIDs[string(o.ID)] {
				continue
			}
			if len(out) >= p.listMax {
				return nil, httpapi.TooManyKeys(p.name, p.listMax, prefix)
			}
			seenIDs[string(o.ID)] = true
			out = append(out, o.info())
		}
		next := string(page.NextPageURL)
		if next == "" {
			return out, nil
		}
		path, err = nextPath(next)
		if err != nil {
			return nil, &providers.Error{Op: "list", Reason: providers.ReasonClient, Err: err}
		}
		if seenPages[path] {
			return nil, &providers.Error{Op: "list", Reason: providers.ReasonClient,
				Err: fmt.Errorf("pagination does not end (page %d links to %s again)", pages, path)}
		}
		if pages >= httpapi.ListMaxPages {
			return nil, httpapi.ListTooLong(p.name, fmt.Sprintf("%d pages", httpapi.ListMaxPages))
		}
		seenPages[path] = true
		query = nil
	}
}

// nextPath reduces a next_page_url to its path and query, resolved against
// the API-key list: Emailit's documentation shows both absolute URLs and
// paths.
// The host is dropped so that the management key is only ever sent to the
// configured base_url.
func nextPath(next string) (string, error) {
	u, err := url.Parse(next)
	if err != nil {
		return "", fmt.Errorf("invalid next_page_url %q", truncate(next, 80))
	}
	if !u.IsAbs() && u.Host == "" && !strings.HasPrefix(u.Path, "/") {
		u = (&url.URL{Path: keysPath}).ResolveReference(u)
	}
	rel := &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	if rel.Path == "" {
		rel.Path = keysPath
	}
	if strings.HasPrefix(rel.Path, "//") { // would read as a host
		rel.Path, rel.RawPath = "/"+strings.TrimLeft(rel.Path, "/"), ""
	}
	return rel.String(), nil
}

// Revoke deletes the key; a key that is already gone counts as revoked.
func (p *Provider) Revoke(ctx context.Context, id string) error {
	if strings.TrimSpace(id) == "" {
		return &providers.Error{Op: "revoke", Reason: providers.ReasonClient, Err: errors.New("empty key id")}
	}
	resp, err := p.client.Do(ctx, httpapi.Request{Op: "revoke", Method: http.MethodDelete,
		Path: keysPath + "/" + url.PathEscape(id), Header: p.auth, Idempotent: true})
	if providers.IsNotFound(err) {
		p.log.Debug("api key already deleted", zap.String("key_id", id))
		return nil
	}
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(resp.Body)) > 0 {
		if o, derr := decodeKey(resp.Body); derr == nil && o.Deleted != nil && !bool(*o.Deleted) {
			return &providers.Error{Op: "revoke", Reason: providers.ReasonServer, Status: resp.Status,
				Message: "the service answered deleted: false"}
		}
	}
	p.log.Debug("api key deleted", zap.String("key_id", id))
	return nil
}

// Test uses the key itself, then returns its metadata as read with the
// management key (last_used_at → LastUsedAt; Active means it exists).
//
// A full-scope key lists one key (GET /v2/api-keys?limit=1), the cheapest
// authenticated read; whether Emailit counts reads in last_used_at is not
// documented. A sending-scope key may only send (and an events key only
// send events), and sending a message to prove the key
// would be a real side effect. Such a key's read is refused as a permission
// error (403; the docs do not give the status, 403 is HTTP's), which still
// shows that the key authenticates, since an unknown key gets 401; its
// existence is then confirmed with Get through the management key. Should
// Emailit answer 401 to valid sending keys, Test would report them as
// rejected (ReasonAuth) and rotations of sending keys would fail safe,
// keeping the old key.
func (p *Provider) Test(ctx context.Context, id string, cred providers.Credential) (providers.KeyInfo, error) {
	key := cred[CredentialField]
	if key == "" {
		return providers.KeyInfo{}, &providers.Error{Op: "test", Reason: providers.ReasonClient,
			Err: errors.New("credential has no " + CredentialField)}
	}
	resp, err := p.client.Do(ctx, httpapi.Request{Op: "test", Method: http.MethodGet, Path: keysPath,
		Query: url.Values{"limit": {"1"}}, Header: httpapi.AuthHeader(httpapi.Bearer(key)), Idempotent: true})
	readForbidden := false
	if err != nil {
		if resp == nil || resp.Status != http.StatusForbidden {
			return providers.KeyInfo{}, err
		}
		readForbidden = true
	}
	o, err := p.get(ctx, "test", id)
	if providers.IsNotFound(err) {
		return providers.KeyInfo{}, &providers.Error{Op: "test", Reason: providers.ReasonAuth, Status: http.StatusNotFound,
			Message: "the key no longer exists at Emailit", Err: err}
	}
	if err != nil {
		return providers.KeyInfo{}, err
	}
	if readForbidden && string(o.Scope) == "full" {
		return providers.KeyInfo{}, &providers.Error{Op: "test", Reason: providers.ReasonAuth, Status: http.StatusForbidden,
			Message: "a full-scope key was refused a read"}
	}
	return o.info(), nil
}

// Verify makes the one request Test starts with, with the key itself
// (GET /v2/api-keys?limit=1), and nothing else. A 2xx proves the key; so
// does a 403, the answer to a sending- or events-scope key, which may not
// read. That a 403 means the key authenticated is inferred, not
// documented: the docs list authentication and permission failures as
// request errors without saying which is checked first, and we assume an
// unknown or deleted key gets 401 (as emailittest does). A 401 returns
// ReasonAuth. Unlike Test, Verify does not read the key's scope, so it
// cannot tell a full-scope key refused a read (which Test rejects) from a
// sending key; keep-alive's Test still does.
func (p *Provider) Verify(ctx context.Context, id string, cred providers.Credential) error {
	key := cred[CredentialField]
	if key == "" {
		return &providers.Error{Op: "verify", Reason: providers.ReasonClient,
			Err: errors.New("credential has no " + CredentialField)}
	}
	resp, err := p.client.Do(ctx, httpapi.Request{Op: "verify", Method: http.MethodGet, Path: keysPath,
		Query: url.Values{"limit": {"1"}}, Header: httpapi.AuthHeader(httpapi.Bearer(key)), Idempotent: true})
	if err != nil && (resp == nil || resp.Status != http.StatusForbidden) {
		return err
	}
	p.log.Debug("api key verified", zap.String("key_id", id))
	return nil
}
