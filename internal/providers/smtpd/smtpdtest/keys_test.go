package smtpdtest_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
)

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
