package smtpdtest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
)

type call struct {
	method, path string
	basic        [2]string
	bearer       string
	ctype        string
	body         string
}

type reply struct {
	status int
	header http.Header
	raw    []byte
}

func (r reply) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.raw, &m), string(r.raw))
	return m
}

func do(t *testing.T, s *smtpdtest.Server, c call) reply {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, s.URL()+c.path, body)
	require.NoError(t, err)
	if c.basic[0] != "" {
		req.SetBasicAuth(c.basic[0], c.basic[1])
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	} else if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{resp.StatusCode, resp.Header, raw}
}

func newServer(t *testing.T, cfg smtpdtest.Config) (*smtpdtest.Server, *clockwork.FakeClock) {
	fc := clockwork.NewFakeClockAt(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	if cfg.Clock == nil {
		cfg.Clock = fc
	}
	s := smtpdtest.New(cfg)
	t.Cleanup(s.Close)
	return s, fc
}

func login(t *testing.T, s *smtpdtest.Server, user, pass string) map[string]any {
	t.Helper()
	r := do(t, s, call{method: "POST", path: "/oauth/token?grant_type=password", basic: [2]string{user, pass}, ctype: "application/json"})
	require.Equal(t, 200, r.status, string(r.raw))
	return r.obj(t)
}

func adminToken(t *testing.T, s *smtpdtest.Server) string {
	return login(t, s, s.Username(), s.Password())["access_token"].(string)
}

func create(t *testing.T, s *smtpdtest.Server, tok, name, role string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name, "role": role})
	r := do(t, s, call{method: "POST", path: "/api/v1/account/api_key", bearer: tok, body: string(body)})
	require.Equal(t, 201, r.status, string(r.raw))
	return r.obj(t)
}

func TestPasswordGrantMatchesDocs(t *testing.T) {
	s, fc := newServer(t, smtpdtest.Config{})
	tok := login(t, s, "admin@example.com", "admin-password")
	require.Equal(t, "bearer", tok["token_type"])
	require.Equal(t, []any{"admin"}, tok["Scope"])
	require.NotEmpty(t, tok["refresh_token"])
	// expires_at is milliseconds, one TokenTTL ahead
	require.EqualValues(t, fc.Now().Add(time.Hour).UnixMilli(), tok["expires_at"])
	// the access token is a JWT whose exp claim is in seconds
	parts := strings.Split(tok["access_token"].(string), ".")
	require.Len(t, parts, 3)
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var c map[string]any
	require.NoError(t, json.Unmarshal(claims, &c))
	require.EqualValues(t, fc.Now().Add(time.Hour).Unix(), c["exp"])
	require.Equal(t, "SMTPD Inc", c["iss"])

	bad := do(t, s, call{method: "POST", path: "/oauth/token?grant_type=password", basic: [2]string{"admin@example.com", "nope"}})
	require.Equal(t, 403, bad.status)
	require.Equal(t, map[string]any{"code": float64(40102), "message": "Username and password are incorrect"}, bad.obj(t))

	require.Equal(t, 401, do(t, s, call{method: "POST", path: "/oauth/token?grant_type=password"}).status)
	require.Equal(t, 400, do(t, s, call{method: "POST", path: "/oauth/token", basic: [2]string{"admin@example.com", "admin-password"}}).status)
	require.Equal(t, 405, do(t, s, call{method: "GET", path: "/oauth/token?grant_type=password"}).status)
}

func TestBearerRequiredAndTokensExpire(t *testing.T) {
	s, fc := newServer(t, smtpdtest.Config{TokenTTL: 10 * time.Minute})
	require.Equal(t, 401, do(t, s, call{method: "GET", path: "/api/v1/account/api_key"}).status)
	require.Equal(t, 401, do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: "forged.token.x"}).status)
	// the docs' "Authentication" header name is not accepted
	req, _ := http.NewRequest("GET", s.URL()+"/api/v1/account/api_key", nil)
	tok := adminToken(t, s)
	req.Header.Set("Authentication", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 401, resp.StatusCode)

	require.Equal(t, 200, do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: tok}).status)
	fc.Advance(10*time.Minute - time.Second)
	require.Equal(t, 200, do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: tok}).status)
	fc.Advance(time.Second)
	r := do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: tok})
	require.Equal(t, 401, r.status)
	require.EqualValues(t, 40103, r.obj(t)["code"])
}

func TestRefreshTokens(t *testing.T) {
	s, fc := newServer(t, smtpdtest.Config{})
	first := login(t, s, s.Username(), s.Password())
	refresh := func(rt string, ctype string) reply {
		body, _ := json.Marshal(map[string]string{"refresh_token": rt})
		return do(t, s, call{method: "POST", path: "/oauth/token?grant_type=refresh_token", body: string(body), ctype: ctype})
	}
	require.Equal(t, 400, refresh(first["refresh_token"].(string), "text/plain").status, "JSON body required")
	r := refresh(first["refresh_token"].(string), "")
	require.Equal(t, 200, r.status, string(r.raw))
	next := r.obj(t)
	require.NotEqual(t, first["access_token"], next["access_token"])
	require.Equal(t, 200, do(t, s, call{method: "GET", path: "/oauth/me", bearer: next["access_token"].(string)}).status)
	// a used refresh token is spent
	require.Equal(t, 401, refresh(first["refresh_token"].(string), "").status)

	// a new grant expires older refresh tokens
	login(t, s, s.Username(), s.Password())
	old := refresh(next["refresh_token"].(string), "")
	require.Equal(t, 401, old.status)
	require.EqualValues(t, 40106, old.obj(t)["code"])

	// refresh tokens live 30 days from the grant
	third := login(t, s, s.Username(), s.Password())
	fc.Advance(smtpdtest.RefreshTTL)
	require.Equal(t, 401, refresh(third["refresh_token"].(string), "").status)
}

func TestCreateListGetMatchDocs(t *testing.T) {
	s, fc := newServer(t, smtpdtest.Config{})
	tok := adminToken(t, s)
	k := create(t, s, tok, "PROD - Datadog", "send_only")
	var fields []string
	for f := range k {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	require.Equal(t, []string{"ID", "Key", "Name", "Secret"}, fields)
	for _, f := range []string{"Key", "Secret"} {
		v := k[f].(string)
		require.True(t, strings.ContainsAny(v, "+") && strings.Contains(v, "/") && strings.Contains(v, "="), "%s %q", f, v)
	}

	list := do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: tok})
	require.Equal(t, 200, list.status)
	var items []map[string]any
	require.NoError(t, json.Unmarshal(list.raw, &items), "a bare array")
	require.Len(t, items, 1)
	item := items[0]
	for _, f := range []string{"id", "account_id", "name", "key", "is_active", "last_accessed_at_utc", "created_at_utc", "modified_at_utc"} {
		require.Contains(t, item, f)
	}
	require.NotContains(t, item, "secret", "the secret is shown once")
	require.Equal(t, k["ID"], item["id"])
	require.Equal(t, k["Key"], item["key"])
	require.Equal(t, true, item["is_active"])
	require.EqualValues(t, fc.Now().Unix(), item["created_at_utc"])
	require.EqualValues(t, 0, item["last_accessed_at_utc"])

	got := do(t, s, call{method: "GET", path: "/api/v1/account/api_key/" + k["ID"].(string), bearer: tok})
	require.Equal(t, 200, got.status)
	require.Equal(t, item, got.obj(t))

	nf := do(t, s, call{method: "GET", path: "/api/v1/account/api_key/055e24ae-f132-11eb-a5ac-0a58a9feec2b", bearer: tok})
	require.Equal(t, 404, nf.status)
	require.Equal(t, map[string]any{"code": float64(40410), "message": "resource not found"}, nf.obj(t))
}

func TestCreateValidation(t *testing.T) {
	s, _ := newServer(t, smtpdtest.Config{})
	tok := adminToken(t, s)
	for name, c := range map[string]call{
		"no name":      {body: `{"role":"iac"}`},
		"empty name":   {body: `{"name":" ","role":"iac"}`},
		"no role":      {body: `{"name":"a"}`},
		"bad role":     {body: `{"name":"a","role":"admin"}`},
		"owner role":   {body: `{"name":"a","role":"owner"}`},
		"not json":     {body: `name=a&role=iac`},
		"content type": {body: `{"name":"a","role":"iac"}`, ctype: "text/plain"},
		"no body":      {},
	} {
		c.method, c.path, c.bearer = "POST", "/api/v1/account/api_key", tok
		r := do(t, s, c)
		require.Equal(t, 400, r.status, name)
		require.NotEmpty(t, r.obj(t)["message"], name)
	}
	require.Empty(t, s.Keys())
}

func TestKeysLogInButCannotManageKeys(t *testing.T) {
	s, fc := newServer(t, smtpdtest.Config{})
	admin := adminToken(t, s)
	k := create(t, s, admin, "ci", "iac")
	cred := providers.Credential{"key": k["Key"].(string), "secret": k["Secret"].(string)}
	require.True(t, s.Valid(cred))
	require.False(t, s.Valid(providers.Credential{"key": cred["key"], "secret": cred["secret"] + "x"}))

	fc.Advance(30 * time.Minute)
	kt := login(t, s, cred["key"], cred["secret"])
	require.Equal(t, []any{"iac"}, kt["Scope"])
	tok := kt["access_token"].(string)
	require.Equal(t, 200, do(t, s, call{method: "GET", path: "/oauth/me", bearer: tok}).status)
	require.Equal(t, 200, do(t, s, call{method: "GET", path: "/api/v1/account", bearer: tok}).status)
	require.Equal(t, 403, do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: tok}).status)
	require.Equal(t, 403, do(t, s, call{method: "POST", path: "/api/v1/account/api_key", bearer: tok, body: `{"name":"x","role":"iac"}`}).status)

	rec := s.Keys()[0]
	require.Equal(t, fc.Now(), rec.LastAccessedAt, "a login is a use")
	got := do(t, s, call{method: "GET", path: "/api/v1/account/api_key/" + rec.ID, bearer: admin}).obj(t)
	require.EqualValues(t, fc.Now().Unix(), got["last_accessed_at_utc"])
	sess := do(t, s, call{method: "GET", path: "/api/v1/account/api_key/" + rec.ID + "/sessions", bearer: admin})
	require.Equal(t, 200, sess.status)
	require.Contains(t, string(sess.raw), `"ip_address"`)
}

func TestRevoke(t *testing.T) {
	s, _ := newServer(t, smtpdtest.Config{})
	admin := adminToken(t, s)
	k := create(t, s, admin, "old", "standard")
	id := k["ID"].(string)
	kt := login(t, s, k["Key"].(string), k["Secret"].(string))["access_token"].(string)

	r := do(t, s, call{method: "PUT", path: "/api/v1/account/api_key/" + id + "/revoke", bearer: admin})
	require.Equal(t, 200, r.status)
	require.Empty(t, r.raw)
	require.False(t, s.Keys()[0].Active)
	require.Equal(t, false, do(t, s, call{method: "GET", path: "/api/v1/account/api_key/" + id, bearer: admin}).obj(t)["is_active"])
	require.Equal(t, 403, do(t, s, call{method: "POST", path: "/oauth/token?grant_type=password", basic: [2]string{k["Key"].(string), k["Secret"].(string)}}).status)
	require.Equal(t, 401, do(t, s, call{method: "GET", path: "/oauth/me", bearer: kt}).status, "a revoked key's tokens die with it")
	require.Equal(t, 400, do(t, s, call{method: "PUT", path: "/api/v1/account/api_key/" + id + "/revoke", bearer: admin}).status)
	require.Equal(t, 404, do(t, s, call{method: "PUT", path: "/api/v1/account/api_key/8a1c2f4e-0000-4000-8000-000000000000/revoke", bearer: admin}).status)
	require.Equal(t, 405, do(t, s, call{method: "POST", path: "/api/v1/account/api_key/" + id + "/revoke", bearer: admin}).status)
}

func TestInactivityRevocation(t *testing.T) {
	s, fc := newServer(t, smtpdtest.Config{InactivityAfter: 48 * time.Hour, TokenTTL: 100 * time.Hour})
	admin := adminToken(t, s)
	used := create(t, s, admin, "used", "send_only")
	idle := create(t, s, admin, "idle", "send_only")
	fc.Advance(47 * time.Hour)
	login(t, s, used["Key"].(string), used["Secret"].(string))
	fc.Advance(time.Hour)
	keys := s.Keys()
	require.True(t, keys[0].Active)
	require.False(t, keys[1].Active, "idle for 48h")
	require.False(t, s.Valid(providers.Credential{"key": idle["Key"].(string), "secret": idle["Secret"].(string)}))
	r := do(t, s, call{method: "POST", path: "/oauth/token?grant_type=password", basic: [2]string{idle["Key"].(string), idle["Secret"].(string)}})
	require.Equal(t, 403, r.status)
	list := do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: admin})
	require.Contains(t, string(list.raw), `"is_active":false`)
	fc.Advance(47 * time.Hour)
	require.False(t, s.Keys()[0].Active, "48h after its last login")
}

func TestFaultInjection(t *testing.T) {
	s, fc := newServer(t, smtpdtest.Config{})
	admin := adminToken(t, s)
	s.FailNext(smtpdtest.OpList, 2, 503)
	s.FailNext("", 1, 429)
	for i := 0; i < 2; i++ {
		r := do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: admin})
		require.Equal(t, 503, r.status)
		require.EqualValues(t, 50300, r.obj(t)["code"])
	}
	r := do(t, s, call{method: "GET", path: "/oauth/me", bearer: admin})
	require.Equal(t, 429, r.status)
	require.Equal(t, "1", r.header.Get("Retry-After"))
	require.Equal(t, 200, do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: admin}).status)

	s.DropNextCreate()
	req, _ := http.NewRequest("POST", s.URL()+"/api/v1/account/api_key", bytes.NewReader([]byte(`{"name":"dropped","role":"iac"}`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+admin)
	_, err := http.DefaultClient.Do(req)
	require.Error(t, err, "connection closed without a response")
	require.Len(t, s.Keys(), 1, "but the key exists")
	require.Equal(t, "dropped", s.Keys()[0].Name)

	got := s.Requests()
	require.Equal(t, 3, got[smtpdtest.OpList])
	require.Equal(t, 1, got[smtpdtest.OpCreate])
	require.Equal(t, 1, got[smtpdtest.OpLogin])

	s.SetLatency(time.Minute)
	done := make(chan int, 1)
	go func() {
		resp, err := http.Get(s.URL() + "/oauth/me")
		if err == nil {
			resp.Body.Close()
			done <- resp.StatusCode
		}
	}()
	bctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, fc.BlockUntilContext(bctx, 1), "the request waits out the latency")
	select {
	case <-done:
		t.Fatal("answered before the latency elapsed")
	default:
	}
	fc.Advance(time.Minute)
	require.Equal(t, 401, <-done)
}

func TestRateLimit(t *testing.T) {
	s, fc := newServer(t, smtpdtest.Config{RateLimit: 2})
	for i := 0; i < 2; i++ {
		require.Equal(t, 401, do(t, s, call{method: "GET", path: "/oauth/me"}).status)
	}
	r := do(t, s, call{method: "GET", path: "/oauth/me"})
	require.Equal(t, 429, r.status)
	require.Equal(t, "1", r.header.Get("Retry-After"))
	fc.Advance(time.Second)
	require.Equal(t, 401, do(t, s, call{method: "GET", path: "/oauth/me"}).status)
}

func TestIssuedSecrets(t *testing.T) {
	s, _ := newServer(t, smtpdtest.Config{})
	tok := login(t, s, s.Username(), s.Password())
	k := create(t, s, tok["access_token"].(string), "a", "iac")
	got := s.IssuedSecrets()
	for _, want := range []any{s.Password(), tok["access_token"], tok["refresh_token"], k["Key"], k["Secret"]} {
		require.Contains(t, got, want)
	}
}
