// Package smtpdtest is an in-memory smtpd.dev API server for tests and the
// demo mode, built from the published documentation
// (docs.smtpd.dev/api/authentication and /api/account/api-keys) and, where
// the docs are silent, from the official Go SDK. Where the real service's
// behaviour is unknown it picks the stricter choice, so that a client that
// works here does not rely on leniency:
//
//   - POST /oauth/token?grant_type=password with Basic auth (an account
//     login, or an API key's key:secret); a bad login is 403 code 40102.
//     The response carries a JWT-like access token, expires_at in
//     milliseconds, and a refresh token. A key's last_accessed_at_utc moves
//     only when the key logs in.
//   - POST /oauth/token?grant_type=refresh_token with JSON
//     {"refresh_token"}; refresh tokens live 30 days from the grant, and a
//     new grant for the same principal expires its older refresh tokens.
//     A refresh rotates the refresh token.
//   - Every other call needs Authorization: Bearer (not the docs'
//     "Authentication" typo); an expired or unknown token is 401. Tokens of
//     a key die with the key.
//   - API keys may log in and call GET /oauth/me and GET /api/v1/account,
//     but not manage API keys (403).
//   - /api/v1/account/api_key: create (201, capitalised fields, one-time
//     Secret), list (bare array, snake_case, unix seconds), get, revoke
//     (PUT …/:id/revoke; a second revoke is 400), sessions. Unknown id is
//     404 code 40410. Keys idle for longer than InactivityAfter become
//     is_active:false, evaluated on the injected clock.
//
// Fault injection (the embedded faults.Injector): FailNext, SetLatency,
// DropNextCreate, ServeWith (a hostile or broken answer of any size).
// Requests are counted per operation.
package smtpdtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/testing/faults"
)

// Operations, as counted by Requests and matched by FailNext.
const (
	OpLogin    = "login"    // password grant
	OpRefresh  = "refresh"  // refresh_token grant
	OpLogout   = "logout"   // POST /oauth/revoke
	OpMe       = "me"       // GET /oauth/me
	OpAccount  = "account"  // GET /api/v1/account
	OpCreate   = "create"   // POST /api/v1/account/api_key
	OpList     = "list"     // GET /api/v1/account/api_key
	OpGet      = "get"      // GET /api/v1/account/api_key/:id
	OpRevoke   = "revoke"   // PUT /api/v1/account/api_key/:id/revoke
	OpSessions = "sessions" // GET /api/v1/account/api_key/:id/sessions
)

// Roles accepted by create.
var Roles = []string{"iac", "standard", "read_only", "send_only"}

// RefreshTTL is the absolute lifetime of a refresh token.
const RefreshTTL = 30 * 24 * time.Hour

// Config configures a Server. Zero values take the defaults.
type Config struct {
	// Clock drives token expiry, inactivity and latency; nil is the real
	// clock.
	Clock clockwork.Clock
	// Username and Password are the management (owner) login; defaults
	// "admin@example.com" / "admin-password".
	Username, Password string
	// TokenTTL is the access token lifetime; default 1h.
	TokenTTL time.Duration
	// InactivityAfter is how long a key may stay unused before it is
	// revoked; default 90 days.
	InactivityAfter time.Duration
	// Latency delays every response, on Clock.
	Latency time.Duration
	// RateLimit, when above 0, is the most requests per second (on Clock)
	// the server accepts; more get 429 with Retry-After.
	RateLimit float64
}

// KeyRecord is a snapshot of one API key, including its secret (for tests).
type KeyRecord struct {
	ID, AccountID, Name, Role string
	Key, Secret               string
	Active                    bool
	CreatedAt, ModifiedAt     time.Time
	// LastAccessedAt is zero until the key first logs in.
	LastAccessedAt time.Time
}

// Server is a running fake smtpd.dev API.
type Server struct {
	*faults.Injector

	cfg       Config
	clock     clockwork.Clock
	srv       *httptest.Server
	signKey   []byte
	accountID string
	userID    string

	mu       sync.Mutex
	keys     map[string]*KeyRecord
	order    []string
	sessions map[string][]session
	access   map[string]*grant
	refresh  map[string]*grant
	issued   []string
	window   []time.Time
}

type grant struct {
	principal string // "" for the management user, else a key id
	expires   time.Time
	granted   time.Time // of the original password grant, for refresh tokens
}

type session struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	IPAddress string `json:"ip_address"`
	UserAgent string `json:"raw_user_agent"`
	IsActive  bool   `json:"is_active"`
	CreatedAt int64  `json:"created_at_utc"`
	Modified  int64  `json:"modified_at_utc"`
}

// New starts a server on a loopback address.
func New(cfg Config) *Server {
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.Username == "" {
		cfg.Username = "admin@example.com"
	}
	if cfg.Password == "" {
		cfg.Password = "admin-password"
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = time.Hour
	}
	if cfg.InactivityAfter == 0 {
		cfg.InactivityAfter = 90 * 24 * time.Hour
	}
	s := &Server{
		cfg:       cfg,
		clock:     cfg.Clock,
		signKey:   randomBytes(32),
		accountID: uuid(),
		userID:    uuid(),
		keys:      map[string]*KeyRecord{},
		sessions:  map[string][]session{},
		access:    map[string]*grant{},
		refresh:   map[string]*grant{},
		Injector:  faults.New(cfg.Clock, cfg.Latency),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the base URL, to be used as the provider's base_url.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Username and Password return the management login.
func (s *Server) Username() string { return s.cfg.Username }

// Password returns the management password.
func (s *Server) Password() string { return s.cfg.Password }

// Keys returns a snapshot of every key, in creation order, with is_active
// evaluated now.
func (s *Server) Keys() []KeyRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	out := make([]KeyRecord, 0, len(s.order))
	for _, id := range s.order {
		k := s.keys[id]
		s.expireIdle(k, now)
		out = append(out, *k)
	}
	return out
}

// Valid reports whether the credential's key and secret would be accepted
// by a login right now (without counting as a use of the key).
func (s *Server) Valid(cred providers.Credential) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keyByCredential(cred["key"], cred["secret"])
	return k != nil && s.expireIdle(k, s.clock.Now())
}

// IssuedSecrets returns every key string, secret, access token and refresh
// token the server ever issued, plus the management password.
func (s *Server) IssuedSecrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{s.cfg.Password}, s.issued...)
}

// ExpireAccessTokens forgets every access token, as if their TTL had
// passed (the next call with one gets 401); for tests of re-login.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.access {
		delete(s.access, t)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	op, id := route(r)
	if s.Intercept(w, r, op) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if st, ok := s.rateLimited(now); ok {
		w.Header().Set("Retry-After", fmt.Sprint(st))
		writeError(w, http.StatusTooManyRequests, 42900, "Too many requests")
		return
	}
	if status, ok := s.Fail(op); ok {
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, status, status*100, "injected failure")
		return
	}
	switch op {
	case OpLogin:
		s.handleLogin(w, r, now)
	case OpRefresh:
		s.handleRefresh(w, r, now)
	case OpLogout, OpMe, OpAccount, OpCreate, OpList, OpGet, OpRevoke, OpSessions:
		principal, ok := s.authenticate(w, r, now)
		if !ok {
			return
		}
		s.handleAPI(w, r, op, id, principal, now)
	case "bad_grant":
		writeError(w, http.StatusBadRequest, 40001, "grant_type must be password or refresh_token")
	case "method":
		writeError(w, http.StatusMethodNotAllowed, 40500, "Method not allowed")
	default:
		writeError(w, http.StatusNotFound, 40400, "Route not found")
	}
}
