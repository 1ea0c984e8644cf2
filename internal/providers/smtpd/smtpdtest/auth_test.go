package smtpdtest_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
)

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
