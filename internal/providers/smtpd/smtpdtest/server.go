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
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
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

// route maps a request to its operation and key id.
func route(r *http.Request) (op, id string) {
	p := strings.TrimSuffix(r.URL.Path, "/")
	m := r.Method
	const keys = "/api/v1/account/api_key"
	switch {
	case p == "/oauth/token":
		if m != http.MethodPost {
			return "method", ""
		}
		switch r.URL.Query().Get("grant_type") {
		case "password":
			return OpLogin, ""
		case "refresh_token":
			return OpRefresh, ""
		}
		return "bad_grant", ""
	case p == "/oauth/revoke":
		return methodOr(m, http.MethodPost, OpLogout), ""
	case p == "/oauth/me":
		return methodOr(m, http.MethodGet, OpMe), ""
	case p == "/api/v1/account":
		return methodOr(m, http.MethodGet, OpAccount), ""
	case p == keys:
		switch m {
		case http.MethodPost:
			return OpCreate, ""
		case http.MethodGet:
			return OpList, ""
		}
		return "method", ""
	case strings.HasPrefix(p, keys+"/"):
		rest := strings.Split(strings.TrimPrefix(p, keys+"/"), "/")
		switch {
		case len(rest) == 1:
			return methodOr(m, http.MethodGet, OpGet), rest[0]
		case len(rest) == 2 && rest[1] == "revoke":
			return methodOr(m, http.MethodPut, OpRevoke), rest[0]
		case len(rest) == 2 && rest[1] == "sessions":
			return methodOr(m, http.MethodGet, OpSessions), rest[0]
		}
	}
	return "unknown", ""
}

func methodOr(got, want, op string) string {
	if got != want {
		return "method"
	}
	return op
}

func (s *Server) rateLimited(now time.Time) (retryAfter int, limited bool) {
	if s.cfg.RateLimit <= 0 {
		return 0, false
	}
	cut := now.Add(-time.Second)
	kept := s.window[:0]
	for _, t := range s.window {
		if t.After(cut) {
			kept = append(kept, t)
		}
	}
	s.window = kept
	if float64(len(s.window)) >= s.cfg.RateLimit {
		return 1, true
	}
	s.window = append(s.window, now)
	return 0, false
}

// handleLogin is the password grant: Basic auth with a user login or an API
// key's key:secret, empty body.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, now time.Time) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		writeError(w, http.StatusUnauthorized, 40101, "Authorization header with Basic credentials required")
		return
	}
	var principal, name string
	var scope []string
	switch {
	case hmac.Equal([]byte(user), []byte(s.cfg.Username)) && hmac.Equal([]byte(pass), []byte(s.cfg.Password)):
		principal, name, scope = "", s.cfg.Username, []string{"admin"}
	default:
		k := s.keyByCredential(user, pass)
		if k == nil || !s.expireIdle(k, now) {
			writeError(w, http.StatusForbidden, 40102, "Username and password are incorrect")
			return
		}
		k.LastAccessedAt = now
		principal, name, scope = k.ID, k.Name, []string{k.Role}
		s.sessions[k.ID] = append(s.sessions[k.ID], session{ID: uuid(), AccountID: s.accountID,
			IPAddress: "127.0.0.1", UserAgent: r.UserAgent(), IsActive: true, CreatedAt: now.Unix(), Modified: now.Unix()})
	}
	// "Existing Refresh Tokens are expired when a new Grant Token is successful."
	for t, g := range s.refresh {
		if g.principal == principal {
			delete(s.refresh, t)
		}
	}
	s.issueTokens(w, principal, name, scope, now, now)
}

func (s *Server) issueTokens(w http.ResponseWriter, principal, name string, scope []string, granted, now time.Time) {
	exp := now.Add(s.cfg.TokenTTL)
	access := s.jwt(principal, name, exp)
	refresh := randomString(48)
	s.access[access] = &grant{principal: principal, expires: exp, granted: granted}
	s.refresh[refresh] = &grant{principal: principal, expires: granted.Add(RefreshTTL), granted: granted}
	s.issued = append(s.issued, access, refresh)
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":    "bearer",
		"access_token":  access,
		"expires_at":    exp.UnixMilli(),
		"Scope":         scope,
		"refresh_token": refresh,
	})
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request, now time.Time) {
	if !isJSON(r) {
		writeError(w, http.StatusBadRequest, 40000, "Content-Type must be application/json")
		return
	}
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.RefreshToken == "" {
		writeError(w, http.StatusBadRequest, 40000, "refresh_token is required")
		return
	}
	g, ok := s.refresh[body.RefreshToken]
	if !ok || !now.Before(g.expires) {
		writeError(w, http.StatusUnauthorized, 40106, "Refresh token is invalid")
		return
	}
	name, scope := s.cfg.Username, []string{"admin"}
	if g.principal != "" {
		k := s.keys[g.principal]
		if k == nil || !s.expireIdle(k, now) {
			writeError(w, http.StatusUnauthorized, 40106, "Refresh token is invalid")
			return
		}
		name, scope = k.Name, []string{k.Role}
	}
	delete(s.refresh, body.RefreshToken)
	s.issueTokens(w, g.principal, name, scope, g.granted, now)
}

// authenticate checks the Bearer token; it returns the principal ("" for
// the management user, else the key id).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, now time.Time) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "bearer") || tok == "" {
		writeError(w, http.StatusUnauthorized, 40101, "Unauthorized")
		return "", false
	}
	g, ok := s.access[tok]
	if !ok {
		writeError(w, http.StatusUnauthorized, 40101, "Unauthorized")
		return "", false
	}
	if !now.Before(g.expires) {
		writeError(w, http.StatusUnauthorized, 40103, "Access token has expired")
		return "", false
	}
	if g.principal != "" {
		if k := s.keys[g.principal]; k == nil || !s.expireIdle(k, now) {
			writeError(w, http.StatusUnauthorized, 40101, "Unauthorized")
			return "", false
		}
	}
	return g.principal, true
}

func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request, op, id, principal string, now time.Time) {
	switch op {
	case OpMe:
		if principal == "" {
			writeJSON(w, http.StatusOK, map[string]any{"id": s.userID, "account_id": s.accountID,
				"email": s.cfg.Username, "role": "owner", "is_account_verified": true})
			return
		}
		k := s.keys[principal]
		writeJSON(w, http.StatusOK, map[string]any{"id": k.ID, "account_id": s.accountID, "name": k.Name, "role": k.Role})
		return
	case OpAccount:
		writeJSON(w, http.StatusOK, map[string]any{"id": s.accountID, "name": "Example Inc",
			"is_verified": true, "api_key_count": len(s.keys), "created_at_utc": 1627618270})
		return
	case OpLogout:
		var body struct {
			RefreshToken string `json:"refresh_token"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		if g, ok := s.refresh[body.RefreshToken]; ok && g.principal == principal {
			delete(s.refresh, body.RefreshToken)
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	if principal != "" {
		writeError(w, http.StatusForbidden, 40301, "API keys cannot manage API keys")
		return
	}
	switch op {
	case OpCreate:
		s.handleCreate(w, r, now)
	case OpList:
		list := make([]map[string]any, 0, len(s.order))
		for _, kid := range s.order {
			k := s.keys[kid]
			s.expireIdle(k, now)
			list = append(list, keyJSON(k))
		}
		writeJSON(w, http.StatusOK, list)
	case OpGet, OpRevoke, OpSessions:
		k, ok := s.keys[id]
		if !ok {
			writeError(w, http.StatusNotFound, 40410, "resource not found")
			return
		}
		active := s.expireIdle(k, now)
		switch op {
		case OpGet:
			writeJSON(w, http.StatusOK, keyJSON(k))
		case OpSessions:
			out := s.sessions[k.ID]
			if out == nil {
				out = []session{}
			}
			writeJSON(w, http.StatusOK, out)
		case OpRevoke:
			if !active {
				writeError(w, http.StatusBadRequest, 40011, "API key is already revoked")
				return
			}
			k.Active, k.ModifiedAt = false, now
			for t, g := range s.access {
				if g.principal == k.ID {
					delete(s.access, t)
				}
			}
			w.WriteHeader(http.StatusOK)
		}
	}
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request, now time.Time) {
	if !isJSON(r) {
		writeError(w, http.StatusBadRequest, 40000, "Content-Type must be application/json")
		return
	}
	var body struct {
		Name *string `json:"name"`
		Role *string `json:"role"`
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, 40000, "Request body is not valid JSON")
		return
	}
	if body.Name == nil || strings.TrimSpace(*body.Name) == "" {
		writeError(w, http.StatusBadRequest, 40001, "name is required")
		return
	}
	if body.Role == nil || !validRole(*body.Role) {
		writeError(w, http.StatusBadRequest, 40002, "role must be one of iac, standard, read_only, send_only")
		return
	}
	k := &KeyRecord{
		ID: uuid(), AccountID: s.accountID, Name: *body.Name, Role: *body.Role,
		Key: keyString(false), Secret: keyString(true), Active: true, CreatedAt: now, ModifiedAt: now,
	}
	s.keys[k.ID] = k
	s.order = append(s.order, k.ID)
	s.issued = append(s.issued, k.Key, k.Secret)
	if s.DropCreate(w) {
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"ID": k.ID, "Name": k.Name, "Key": k.Key, "Secret": k.Secret})
}

// expireIdle applies the inactivity revocation and reports whether k is
// active at now.
func (s *Server) expireIdle(k *KeyRecord, now time.Time) bool {
	if !k.Active {
		return false
	}
	last := k.LastAccessedAt
	if last.IsZero() {
		last = k.CreatedAt
	}
	if now.Sub(last) >= s.cfg.InactivityAfter {
		k.Active = false
		k.ModifiedAt = last.Add(s.cfg.InactivityAfter)
	}
	return k.Active
}

func (s *Server) keyByCredential(key, secret string) *KeyRecord {
	if key == "" || secret == "" {
		return nil
	}
	for _, k := range s.keys {
		if hmac.Equal([]byte(k.Key), []byte(key)) && hmac.Equal([]byte(k.Secret), []byte(secret)) {
			return k
		}
	}
	return nil
}

func keyJSON(k *KeyRecord) map[string]any {
	var last int64
	if !k.LastAccessedAt.IsZero() {
		last = k.LastAccessedAt.Unix()
	}
	return map[string]any{
		"id": k.ID, "account_id": k.AccountID, "name": k.Name, "key": k.Key, "is_active": k.Active,
		"last_accessed_at_utc": last, "created_at_utc": k.CreatedAt.Unix(), "modified_at_utc": k.ModifiedAt.Unix(),
	}
}

func validRole(r string) bool {
	for _, v := range Roles {
		if v == r {
			return true
		}
	}
	return false
}

func isJSON(r *http.Request) bool {
	ct := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Type")))
	return ct == "application/json" || strings.HasPrefix(ct, "application/json;")
}

// jwt makes a token shaped like the docs' example: HS256, claims
// account_id, exp (seconds), id, iss, name, scope, sub.
func (s *Server) jwt(principal, name string, exp time.Time) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	id := principal
	if id == "" {
		id = s.userID
	}
	claims, _ := json.Marshal(map[string]any{"account_id": s.accountID, "exp": exp.Unix(), "id": id,
		"is_account_verified": true, "iss": "SMTPD Inc", "name": name, "scope": []int{1}, "sub": name,
		"jti": randomString(8)})
	body := header + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, s.signKey)
	mac.Write([]byte(body))
	return body + "." + enc.EncodeToString(mac.Sum(nil))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg})
}

// keyString makes a key or secret shaped like the docs' examples: base64
// with '+', '/' and '=' and a "/1w2…" suffix.
func keyString(mixedCase bool) string {
	b := base64.StdEncoding.EncodeToString(randomBytes(64)) // 88 chars, ends "=="
	if !mixedCase {
		b = strings.ToLower(b)
	}
	return b[:10] + "+" + b[10:30] + "/" + b[30:] + "/1w2" + randomString(20)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func randomString(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := randomBytes(n)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func uuid() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
