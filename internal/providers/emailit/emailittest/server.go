// Package emailittest is an in-memory Emailit API (v2) for tests and the
// demo mode: the API-key endpoints (create, get, list, update, delete) and a
// minimal send endpoint, built from Emailit's published API documentation
// (API keys, errors, rate limits).
//
// It is strict where the documentation is: Bearer authentication only (a key
// in the query string or body is rejected), only full-scope keys may manage
// keys (sending and events keys get 403 everywhere but the send endpoint),
// names are required and unique (409 with the existing object), scope
// defaults to full and is immutable, the secret is returned only by create,
// new secrets are "secret_" + 32 letters and digits, list limit is 1..100
// (default 10, anything else is a 400), pagination links are absolute URLs or
// paths, and a sliding-window rate limit per workspace answers 429 with a
// Retry-After header and a retry_after body field. Time, for timestamps, the
// rate limit and injected latency, comes from the injected clock.
//
// The workspace starts with one full-scope key, the management key, named
// "management"; it is listed like any other key.
//
// The server is importable by non-test code and never imports testing.
package emailittest

import (
	"crypto/rand"
	"math/big"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/testing/faults"
)

// Operations, as counted by Requests and targeted by FailNext.
const (
	OpCreate = "create" // POST /v2/api-keys
	OpGet    = "get"    // GET /v2/api-keys/{id}
	OpList   = "list"   // GET /v2/api-keys
	OpUpdate = "update" // POST /v2/api-keys/{id}
	OpDelete = "delete" // DELETE /v2/api-keys/{id}
	OpSend   = "send"   // POST /v2/emails
)

// Page URL styles for next_page_url and previous_page_url.
const (
	PageURLAbsolute = "absolute" // "http://127.0.0.1:1234/v2/api-keys?page=2&limit=10"
	PageURLPath     = "path"     // "/v2/api-keys?page=2&limit=10"
)

// NoRateLimit, as Config.RateLimit, disables the rate limit.
const NoRateLimit = -1

// ManagementKeyName is the name of the key the workspace starts with.
const ManagementKeyName = "management"

// Config configures a Server. The zero value is usable.
type Config struct {
	// Clock drives timestamps, the rate limit window and latency; nil means
	// the real clock.
	Clock clockwork.Clock
	// ManagementKey is the secret of the full-scope key the workspace starts
	// with; "" means a random "secret_" + 32 alphanumerics.
	ManagementKey string
	// RateLimit is the requests per second allowed per workspace over a
	// one-second sliding window. The zero value means the documented 2;
	// NoRateLimit (any negative value) disables it.
	RateLimit float64
	// Latency delays every response, on Clock: with a fake clock a request
	// waits until the test advances it.
	Latency time.Duration
	// PageURLStyle is PageURLAbsolute (default) or PageURLPath.
	PageURLStyle string
	// StringIDs makes new keys' ids strings like "ak_7Hq2..." instead of
	// integers (as parts of the documentation and the SDK tests do).
	StringIDs bool
	// Quirky makes responses use the variants seen in production by
	// third-party clients: ids and numbers as strings, booleans as 0/1,
	// timestamps as "2006-01-02 15:04:05" or unix seconds.
	Quirky bool
}

// KeyRecord is a snapshot of one key in the workspace.
type KeyRecord struct {
	ID   string
	Name string
	// Scope is "full", "sending" or "events".
	Scope string
	// SendingDomainID is the domain a sending key is restricted to ("" for
	// none); as given on create (digits or a "dom_..." string).
	SendingDomainID string
	// Key is the secret.
	Key        string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	LastUsedAt time.Time // zero when never used
	// Management is true for the key the workspace started with.
	Management bool
}

// Server is a running in-memory Emailit API on a loopback address.
//
// Its fault injection is the embedded faults.Injector: FailNext (here with
// "revoke" as an alias of OpDelete), ServeWith, SetLatency, DropNextCreate
// and Requests.
type Server struct {
	*faults.Injector

	cfg   Config
	clock clockwork.Clock
	srv   *httptest.Server

	mu          sync.Mutex
	keys        map[string]*KeyRecord // by id
	order       []string              // ids in creation order
	nextID      int64
	issued      []string
	rateLimited int
	window      *slidingWindow
}

// New starts a server. Close it when done.
func New(cfg Config) *Server {
	s := &Server{
		cfg:    cfg,
		clock:  cfg.Clock,
		keys:   map[string]*KeyRecord{},
		nextID: 1234567890,
	}
	if s.clock == nil {
		s.clock = clockwork.NewRealClock()
	}
	s.Injector = faults.New(s.clock, cfg.Latency)
	switch {
	case cfg.RateLimit == 0:
		s.window = newSlidingWindow(2)
	case cfg.RateLimit > 0:
		s.window = newSlidingWindow(cfg.RateLimit)
	}
	mgmt := cfg.ManagementKey
	if mgmt == "" {
		mgmt = NewSecret()
	}
	s.addKey(ManagementKeyName, "full", "", mgmt).Management = true
	s.srv = httptest.NewServer(s.routes())
	return s
}

// URL is the server's base URL ("http://127.0.0.1:port"), the value for
// the provider's base_url.
func (s *Server) URL() string { return s.srv.URL }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// ManagementKey returns the secret of the full-scope management key.
func (s *Server) ManagementKey() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.order {
		if k := s.keys[id]; k.Management {
			return k.Key
		}
	}
	return ""
}

// Keys returns a snapshot of every key in the workspace, the management key
// included, in creation order.
func (s *Server) Keys() []KeyRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]KeyRecord, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, *s.keys[id])
	}
	return out
}

// Valid reports whether cred's "api_key" is the secret of a live key.
func (s *Server) Valid(cred providers.Credential) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bySecret(cred["api_key"]) != nil
}

// IssuedSecrets returns every secret the server ever issued, the
// management key first, including those of deleted keys: tests search logs
// and errors for them.
func (s *Server) IssuedSecrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// CreateKey adds a key directly, as if created in the dashboard, and
// returns it (for setting up orphans or many keys without the rate limit).
// scope "" means full. A duplicate name is allowed here.
func (s *Server) CreateKey(name, scope string) KeyRecord {
	if scope == "" {
		scope = "full"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.addKey(name, scope, "", NewSecret())
}

// DeleteKey removes a key directly, as if deleted in the dashboard; it
// reports whether the key existed.
func (s *Server) DeleteKey(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteLocked(id) != nil
}

// FailNext makes the next n requests of op (OpCreate, ...; "revoke" is an
// alias of OpDelete; "" means any operation) fail with status, before
// authentication and without side effects. 429 answers carry the
// rate-limit body and Retry-After: 1. See faults.Injector.FailNext.
func (s *Server) FailNext(op string, n, status int) {
	if op == "revoke" {
		op = OpDelete
	}
	s.Injector.FailNext(op, n, status)
}

// RateLimited returns how many 429 answers the server gave.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rateLimited
}

// addKey stores a new key; s.mu must be held (or the server not started).
func (s *Server) addKey(name, scope, domain, secret string) *KeyRecord {
	s.nextID++
	id := strconv.FormatInt(s.nextID, 10)
	if s.cfg.StringIDs {
		id = "ak_" + randomAlnum(24)
	}
	now := s.clock.Now().UTC().Truncate(time.Second)
	k := &KeyRecord{ID: id, Name: name, Scope: scope, SendingDomainID: domain, Key: secret,
		CreatedAt: now, UpdatedAt: now}
	s.keys[id] = k
	s.order = append(s.order, id)
	s.issued = append(s.issued, secret)
	return k
}

func (s *Server) deleteLocked(id string) *KeyRecord {
	k, ok := s.keys[id]
	if !ok {
		return nil
	}
	delete(s.keys, id)
	for i, v := range s.order {
		if v == id {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	return k
}

func (s *Server) bySecret(secret string) *KeyRecord {
	if secret == "" {
		return nil
	}
	for _, k := range s.keys {
		if k.Key == secret {
			return k
		}
	}
	return nil
}

func (s *Server) byName(name string) *KeyRecord {
	for _, id := range s.order {
		if k := s.keys[id]; k.Name == name {
			return k
		}
	}
	return nil
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewSecret returns a key secret in Emailit's current format: "secret_"
// followed by 32 letters and digits.
func NewSecret() string { return "secret_" + randomAlnum(32) }

func randomAlnum(n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alnum)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("emailittest: crypto/rand: " + err.Error())
		}
		b[i] = alnum[v.Int64()]
	}
	return string(b)
}
