package smtpdtest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

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
	if err := json.Unmarshal(r.raw, &m); err != nil {
		t.Fatalf("%s: %v", string(r.raw), err)
	}
	return m
}

func do(t *testing.T, s *smtpdtest.Server, c call) reply {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, s.URL()+c.path, body)
	if err != nil {
		t.Fatalf("http.NewRequest: %v", err)
	}
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
	if err != nil {
		t.Fatalf("http.DefaultClient.Do: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("io.ReadAll: %v", err)
	}
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
	if r.status != 200 {
		t.Fatalf("%s: got %v, want %v", string(r.raw), r.status, 200)
	}
	return r.obj(t)
}

func adminToken(t *testing.T, s *smtpdtest.Server) string {
	return login(t, s, s.Username(), s.Password())["access_token"].(string)
}

func create(t *testing.T, s *smtpdtest.Server, tok, name, role string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name, "role": role})
	r := do(t, s, call{method: "POST", path: "/api/v1/account/api_key", bearer: tok, body: string(body)})
	if r.status != 201 {
		t.Fatalf("%s: got %v, want %v", string(r.raw), r.status, 201)
	}
	return r.obj(t)
}

func TestPasswordGrantMatchesDocs(t *testing.T) {
	s, fc := newServer(t, smtpdtest.Config{})
	tok := login(t, s, "admin@example.com", "admin-password")
	if !reflect.DeepEqual("bearer", tok["token_type"]) {
		t.Fatalf("tok[\"token_type\"] = %+v, want %+v", tok["token_type"], "bearer")
	}
	if want := []any{"admin"}; !reflect.DeepEqual(want, tok["Scope"]) {
		t.Fatalf("tok[\"Scope\"] = %+v, want %+v", tok["Scope"], want)
	}
	if tok["refresh_token"] == nil || reflect.ValueOf(tok["refresh_token"]).IsZero() {
		t.Fatalf("refresh_token = %v, want non-empty", tok["refresh_token"])
	}
	// expires_at is milliseconds, one TokenTTL ahead
	if want := float64(fc.Now().Add(time.Hour).UnixMilli()); tok["expires_at"] != want {
		t.Fatalf("expires_at = %v, want %v", tok["expires_at"], want)
	}
	// the access token is a JWT whose exp claim is in seconds
	parts := strings.Split(tok["access_token"].(string), ".")
	if len(parts) != 3 {
		t.Fatalf("len(parts) = %d, want %d: %+v", len(parts), 3, parts)
	}
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("base64.RawURLEncoding.DecodeString: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(claims, &c); err != nil {
		t.Fatalf("json.Unmarshal(claims, &c): %v", err)
	}
	if want := float64(fc.Now().Add(time.Hour).Unix()); c["exp"] != want {
		t.Fatalf("exp = %v, want %v", c["exp"], want)
	}
	if !reflect.DeepEqual("SMTPD Inc", c["iss"]) {
		t.Fatalf("c[\"iss\"] = %+v, want %+v", c["iss"], "SMTPD Inc")
	}

	bad := do(t, s, call{method: "POST", path: "/oauth/token?grant_type=password", basic: [2]string{"admin@example.com", "nope"}})
	if bad.status != 403 {
		t.Fatalf("bad.status = %v, want %v", bad.status, 403)
	}
	if got, want := bad.obj(t), map[string]any{"code": float64(40102), "message": "Username and password are incorrect"}; !reflect.DeepEqual(want, got) {
		t.Fatalf("bad.obj(t) = %+v, want %+v", got, want)
	}

	if got := do(t, s, call{method: "POST", path: "/oauth/token?grant_type=password"}).status; got != 401 {
		t.Fatalf("got %v, want %v", got, 401)
	}
	if got := do(t, s, call{method: "POST", path: "/oauth/token", basic: [2]string{"admin@example.com", "admin-password"}}).status; got != 400 {
		t.Fatalf("got %v, want %v", got, 400)
	}
	if got := do(t, s, call{method: "GET", path: "/oauth/token?grant_type=password"}).status; got != 405 {
		t.Fatalf("got %v, want %v", got, 405)
	}
}

func TestBearerRequiredAndTokensExpire(t *testing.T) {
	s, fc := newServer(t, smtpdtest.Config{TokenTTL: 10 * time.Minute})
	if got := do(t, s, call{method: "GET", path: "/api/v1/account/api_key"}).status; got != 401 {
		t.Fatalf("do(t, s, call{method: \"GET\", path: \"/api/v1/account/api_key\"}).status = %v, want %v", got, 401)
	}
	if got := do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: "forged.token.x"}).status; got != 401 {
		t.Fatalf("got %v, want %v", got, 401)
	}
	// the docs' "Authentication" header name is not accepted
	req, _ := http.NewRequest("GET", s.URL()+"/api/v1/account/api_key", nil)
	tok := adminToken(t, s)
	req.Header.Set("Authentication", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("http.DefaultClient.Do: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("resp.StatusCode = %v, want %v", resp.StatusCode, 401)
	}

	if got := do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: tok}).status; got != 200 {
		t.Fatalf("got %v, want %v", got, 200)
	}
	fc.Advance(10*time.Minute - time.Second)
	if got := do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: tok}).status; got != 200 {
		t.Fatalf("got %v, want %v", got, 200)
	}
	fc.Advance(time.Second)
	r := do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: tok})
	if r.status != 401 {
		t.Fatalf("r.status = %v, want %v", r.status, 401)
	}
	if got := r.obj(t)["code"]; got != float64(40103) {
		t.Fatalf("code = %v, want 40103", got)
	}
}

func TestRefreshTokens(t *testing.T) {
	s, fc := newServer(t, smtpdtest.Config{})
	first := login(t, s, s.Username(), s.Password())
	refresh := func(rt string, ctype string) reply {
		body, _ := json.Marshal(map[string]string{"refresh_token": rt})
		return do(t, s, call{method: "POST", path: "/oauth/token?grant_type=refresh_token", body: string(body), ctype: ctype})
	}
	if got := refresh(first["refresh_token"].(string), "text/plain").status; got != 400 {
		t.Fatalf("JSON body required: got %v, want %v", got, 400)
	}
	r := refresh(first["refresh_token"].(string), "")
	if r.status != 200 {
		t.Fatalf("%s: got %v, want %v", string(r.raw), r.status, 200)
	}
	next := r.obj(t)
	if reflect.DeepEqual(first["access_token"], next["access_token"]) {
		t.Fatalf("next[\"access_token\"] = %v, want anything else", next["access_token"])
	}
	if got := do(t, s, call{method: "GET", path: "/oauth/me", bearer: next["access_token"].(string)}).status; got != 200 {
		t.Fatalf("got %v, want %v", got, 200)
	}
	// a used refresh token is spent
	if got := refresh(first["refresh_token"].(string), "").status; got != 401 {
		t.Fatalf("refresh(first[\"refresh_token\"].(string), \"\").status = %v, want %v", got, 401)
	}

	// a new grant expires older refresh tokens
	login(t, s, s.Username(), s.Password())
	old := refresh(next["refresh_token"].(string), "")
	if old.status != 401 {
		t.Fatalf("old.status = %v, want %v", old.status, 401)
	}
	if got := old.obj(t)["code"]; got != float64(40106) {
		t.Fatalf("code = %v, want 40106", got)
	}

	// refresh tokens live 30 days from the grant
	third := login(t, s, s.Username(), s.Password())
	fc.Advance(smtpdtest.RefreshTTL)
	if got := refresh(third["refresh_token"].(string), "").status; got != 401 {
		t.Fatalf("refresh(third[\"refresh_token\"].(string), \"\").status = %v, want %v", got, 401)
	}
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
	if want := []string{"ID", "Key", "Name", "Secret"}; !reflect.DeepEqual(want, fields) {
		t.Fatalf("fields = %+v, want %+v", fields, want)
	}
	for _, f := range []string{"Key", "Secret"} {
		v := k[f].(string)
		if !(strings.ContainsAny(v, "+") && strings.Contains(v, "/") && strings.Contains(v, "=")) {
			t.Fatalf("%s %q: got false, want true", f, v)
		}
	}

	list := do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: tok})
	if list.status != 200 {
		t.Fatalf("list.status = %v, want %v", list.status, 200)
	}
	var items []map[string]any
	if err := json.Unmarshal(list.raw, &items); err != nil {
		t.Fatalf("a bare array: %v", err)
	}
	if len(items) != 1 {
		t.Fatalf("len(items) = %d, want %d: %+v", len(items), 1, items)
	}
	item := items[0]
	for _, f := range []string{"id", "account_id", "name", "key", "is_active", "last_accessed_at_utc", "created_at_utc", "modified_at_utc"} {
		if _, ok := item[f]; !ok {
			t.Fatalf("got %+v, want it to have key %+v", item, f)
		}
	}
	if _, ok := item["secret"]; ok {
		t.Fatalf("the secret is shown once: got %+v, want no key %+v", item, "secret")
	}
	if !reflect.DeepEqual(k["ID"], item["id"]) {
		t.Fatalf("item[\"id\"] = %v, want %v", item["id"], k["ID"])
	}
	if !reflect.DeepEqual(k["Key"], item["key"]) {
		t.Fatalf("item[\"key\"] = %v, want %v", item["key"], k["Key"])
	}
	if !reflect.DeepEqual(true, item["is_active"]) {
		t.Fatalf("item[\"is_active\"] = %v, want %v", item["is_active"], true)
	}
	if want := float64(fc.Now().Unix()); item["created_at_utc"] != want {
		t.Fatalf("created_at_utc = %v, want %v", item["created_at_utc"], want)
	}
	if item["last_accessed_at_utc"] != float64(0) {
		t.Fatalf("last_accessed_at_utc = %v, want 0", item["last_accessed_at_utc"])
	}

	got := do(t, s, call{method: "GET", path: "/api/v1/account/api_key/" + k["ID"].(string), bearer: tok})
	if got.status != 200 {
		t.Fatalf("got.status = %v, want %v", got.status, 200)
	}
	if got2 := got.obj(t); !reflect.DeepEqual(item, got2) {
		t.Fatalf("got.obj(t) = %+v, want %+v", got2, item)
	}

	nf := do(t, s, call{method: "GET", path: "/api/v1/account/api_key/055e24ae-f132-11eb-a5ac-0a58a9feec2b", bearer: tok})
	if nf.status != 404 {
		t.Fatalf("nf.status = %v, want %v", nf.status, 404)
	}
	if got, want := nf.obj(t), map[string]any{"code": float64(40410), "message": "resource not found"}; !reflect.DeepEqual(want, got) {
		t.Fatalf("nf.obj(t) = %+v, want %+v", got, want)
	}
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
		if r.status != 400 {
			t.Fatalf("%s: got %v, want %v", name, r.status, 400)
		}
		if msg := r.obj(t)["message"]; msg == nil || reflect.ValueOf(msg).IsZero() {
			t.Fatalf("%s: message = %v, want non-empty", name, msg)
		}
	}
	if got := s.Keys(); len(got) != 0 {
		t.Fatalf("s.Keys() = %+v, want empty", got)
	}
}

func TestKeysLogInButCannotManageKeys(t *testing.T) {
	s, fc := newServer(t, smtpdtest.Config{})
	admin := adminToken(t, s)
	k := create(t, s, admin, "ci", "iac")
	cred := providers.Credential{"key": k["Key"].(string), "secret": k["Secret"].(string)}
	if !s.Valid(cred) {
		t.Fatalf("s.Valid(cred): got false, want true")
	}
	if s.Valid(providers.Credential{"key": cred["key"], "secret": cred["secret"] + "x"}) {
		t.Fatalf("got true, want false")
	}

	fc.Advance(30 * time.Minute)
	kt := login(t, s, cred["key"], cred["secret"])
	if want := []any{"iac"}; !reflect.DeepEqual(want, kt["Scope"]) {
		t.Fatalf("kt[\"Scope\"] = %+v, want %+v", kt["Scope"], want)
	}
	tok := kt["access_token"].(string)
	if got := do(t, s, call{method: "GET", path: "/oauth/me", bearer: tok}).status; got != 200 {
		t.Fatalf("do(t, s, call{method: \"GET\", path: \"/oauth/me\", bearer: tok}).status = %v, want %v", got, 200)
	}
	if got := do(t, s, call{method: "GET", path: "/api/v1/account", bearer: tok}).status; got != 200 {
		t.Fatalf("got %v, want %v", got, 200)
	}
	if got := do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: tok}).status; got != 403 {
		t.Fatalf("got %v, want %v", got, 403)
	}
	if got := do(t, s, call{method: "POST", path: "/api/v1/account/api_key", bearer: tok, body: `{"name":"x","role":"iac"}`}).status; got != 403 {
		t.Fatalf("got %v, want %v", got, 403)
	}

	rec := s.Keys()[0]
	if want := fc.Now(); !reflect.DeepEqual(want, rec.LastAccessedAt) {
		t.Fatalf("a login is a use: got %+v, want %+v", rec.LastAccessedAt, want)
	}
	got := do(t, s, call{method: "GET", path: "/api/v1/account/api_key/" + rec.ID, bearer: admin}).obj(t)
	if want := float64(fc.Now().Unix()); got["last_accessed_at_utc"] != want {
		t.Fatalf("last_accessed_at_utc = %v, want %v", got["last_accessed_at_utc"], want)
	}
	sess := do(t, s, call{method: "GET", path: "/api/v1/account/api_key/" + rec.ID + "/sessions", bearer: admin})
	if sess.status != 200 {
		t.Fatalf("sess.status = %v, want %v", sess.status, 200)
	}
	if !strings.Contains(string(sess.raw), `"ip_address"`) {
		t.Fatalf("got %q, want it to contain %q", string(sess.raw), `"ip_address"`)
	}
}

func TestRevoke(t *testing.T) {
	s, _ := newServer(t, smtpdtest.Config{})
	admin := adminToken(t, s)
	k := create(t, s, admin, "old", "standard")
	id := k["ID"].(string)
	kt := login(t, s, k["Key"].(string), k["Secret"].(string))["access_token"].(string)

	r := do(t, s, call{method: "PUT", path: "/api/v1/account/api_key/" + id + "/revoke", bearer: admin})
	if r.status != 200 {
		t.Fatalf("r.status = %v, want %v", r.status, 200)
	}
	if len(r.raw) != 0 {
		t.Fatalf("r.raw = %+v, want empty", r.raw)
	}
	if s.Keys()[0].Active {
		t.Fatalf("s.Keys()[0].Active: got true, want false")
	}
	if got := do(t, s, call{method: "GET", path: "/api/v1/account/api_key/" + id, bearer: admin}).obj(t)["is_active"]; !reflect.DeepEqual(false, got) {
		t.Fatalf("got %v, want %v", got, false)
	}
	if got := do(t, s, call{method: "POST", path: "/oauth/token?grant_type=password", basic: [2]string{k["Key"].(string), k["Secret"].(string)}}).status; got != 403 {
		t.Fatalf("got %v, want %v", got, 403)
	}
	if got := do(t, s, call{method: "GET", path: "/oauth/me", bearer: kt}).status; got != 401 {
		t.Fatalf("a revoked key's tokens die with it: got %v, want %v", got, 401)
	}
	if got := do(t, s, call{method: "PUT", path: "/api/v1/account/api_key/" + id + "/revoke", bearer: admin}).status; got != 400 {
		t.Fatalf("got %v, want %v", got, 400)
	}
	if got := do(t, s, call{method: "PUT", path: "/api/v1/account/api_key/8a1c2f4e-0000-4000-8000-000000000000/revoke", bearer: admin}).status; got != 404 {
		t.Fatalf("got %v, want %v", got, 404)
	}
	if got := do(t, s, call{method: "POST", path: "/api/v1/account/api_key/" + id + "/revoke", bearer: admin}).status; got != 405 {
		t.Fatalf("got %v, want %v", got, 405)
	}
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
	if !keys[0].Active {
		t.Fatalf("keys[0].Active: got false, want true")
	}
	if keys[1].Active {
		t.Fatalf("idle for 48h: got true, want false")
	}
	if s.Valid(providers.Credential{"key": idle["Key"].(string), "secret": idle["Secret"].(string)}) {
		t.Fatalf("got true, want false")
	}
	r := do(t, s, call{method: "POST", path: "/oauth/token?grant_type=password", basic: [2]string{idle["Key"].(string), idle["Secret"].(string)}})
	if r.status != 403 {
		t.Fatalf("r.status = %v, want %v", r.status, 403)
	}
	list := do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: admin})
	if !strings.Contains(string(list.raw), `"is_active":false`) {
		t.Fatalf("got %q, want it to contain %q", string(list.raw), `"is_active":false`)
	}
	fc.Advance(47 * time.Hour)
	if s.Keys()[0].Active {
		t.Fatalf("48h after its last login: got true, want false")
	}
}

func TestFaultInjection(t *testing.T) {
	s, fc := newServer(t, smtpdtest.Config{})
	admin := adminToken(t, s)
	s.FailNext(smtpdtest.OpList, 2, 503)
	s.FailNext("", 1, 429)
	for i := 0; i < 2; i++ {
		r := do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: admin})
		if r.status != 503 {
			t.Fatalf("r.status = %v, want %v", r.status, 503)
		}
		if got := r.obj(t)["code"]; got != float64(50300) {
			t.Fatalf("code = %v, want 50300", got)
		}
	}
	r := do(t, s, call{method: "GET", path: "/oauth/me", bearer: admin})
	if r.status != 429 {
		t.Fatalf("r.status = %v, want %v", r.status, 429)
	}
	if got := r.header.Get("Retry-After"); got != "1" {
		t.Fatalf("r.header.Get(\"Retry-After\") = %q, want %q", got, "1")
	}
	if got := do(t, s, call{method: "GET", path: "/api/v1/account/api_key", bearer: admin}).status; got != 200 {
		t.Fatalf("got %v, want %v", got, 200)
	}

	s.DropNextCreate()
	req, _ := http.NewRequest("POST", s.URL()+"/api/v1/account/api_key", bytes.NewReader([]byte(`{"name":"dropped","role":"iac"}`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+admin)
	_, err := http.DefaultClient.Do(req)
	if err == nil {
		t.Fatalf("connection closed without a response: got no error, want one")
	}
	if got := s.Keys(); len(got) != 1 {
		t.Fatalf("but the key exists: len(s.Keys()) = %d, want %d: %+v", len(got), 1, got)
	}
	if got := s.Keys()[0].Name; got != "dropped" {
		t.Fatalf("s.Keys()[0].Name = %q, want %q", got, "dropped")
	}

	got := s.Requests()
	if got[smtpdtest.OpList] != 3 {
		t.Fatalf("got[smtpdtest.OpList] = %v, want %v", got[smtpdtest.OpList], 3)
	}
	if got[smtpdtest.OpCreate] != 1 {
		t.Fatalf("got[smtpdtest.OpCreate] = %v, want %v", got[smtpdtest.OpCreate], 1)
	}
	if got[smtpdtest.OpLogin] != 1 {
		t.Fatalf("got[smtpdtest.OpLogin] = %v, want %v", got[smtpdtest.OpLogin], 1)
	}

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
	if err := fc.BlockUntilContext(bctx, 1); err != nil {
		t.Fatalf("the request waits out the latency: %v", err)
	}
	select {
	case <-done:
		t.Fatal("answered before the latency elapsed")
	default:
	}
	fc.Advance(time.Minute)
	if got := <-done; got != 401 {
		t.Fatalf("<-done = %v, want %v", got, 401)
	}
}

func TestRateLimit(t *testing.T) {
	s, fc := newServer(t, smtpdtest.Config{RateLimit: 2})
	for i := 0; i < 2; i++ {
		if got := do(t, s, call{method: "GET", path: "/oauth/me"}).status; got != 401 {
			t.Fatalf("do(t, s, call{method: \"GET\", path: \"/oauth/me\"}).status = %v, want %v", got, 401)
		}
	}
	r := do(t, s, call{method: "GET", path: "/oauth/me"})
	if r.status != 429 {
		t.Fatalf("r.status = %v, want %v", r.status, 429)
	}
	if got := r.header.Get("Retry-After"); got != "1" {
		t.Fatalf("r.header.Get(\"Retry-After\") = %q, want %q", got, "1")
	}
	fc.Advance(time.Second)
	if got := do(t, s, call{method: "GET", path: "/oauth/me"}).status; got != 401 {
		t.Fatalf("do(t, s, call{method: \"GET\", path: \"/oauth/me\"}).status = %v, want %v", got, 401)
	}
}

func TestIssuedSecrets(t *testing.T) {
	s, _ := newServer(t, smtpdtest.Config{})
	tok := login(t, s, s.Username(), s.Password())
	k := create(t, s, tok["access_token"].(string), "a", "iac")
	got := s.IssuedSecrets()
	for _, want := range []any{s.Password(), tok["access_token"], tok["refresh_token"], k["Key"], k["Secret"]} {
		if !slices.ContainsFunc(got, func(s string) bool { return s == want }) {
			t.Fatalf("got %+v, want it to contain %+v", got, want)
		}
	}
}
