package emailittest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotator-dev/rotator/internal/providers"
)

var start = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// newServer starts a server on a fake clock without the rate limit.
func newServer(t *testing.T, cfg Config) (*Server, *clockwork.FakeClock) {
	t.Helper()
	clk := clockwork.NewFakeClockAt(start)
	if cfg.Clock == nil {
		cfg.Clock = clk
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = NoRateLimit
	}
	s := New(cfg)
	t.Cleanup(s.Close)
	return s, clk
}

type reply struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

// call sends one request; key "" sends no Authorization header. body may be
// a string (sent as is) or a value encoded as JSON.
func call(t *testing.T, s *Server, method, path, key string, body any) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %q", method, path, raw)
	}
	return r
}

func wantStatus(t *testing.T, r reply, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status = %d, want %d; body %s", r.status, want, r.raw)
	}
}

func wantBody(t *testing.T, r reply, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.body, w) {
		t.Fatalf("body = %s\nwant %s", r.raw, want)
	}
}

func TestAuthentication(t *testing.T) {
	s, _ := newServer(t, Config{})
	mgmt := s.ManagementKey()
	if !regexp.MustCompile(`^secret_[A-Za-z0-9]{32}$`).MatchString(mgmt) {
		t.Fatalf("management key %q is not secret_ + 32 alphanumerics", mgmt)
	}

	r := call(t, s, "GET", "/v2/api-keys", "", nil)
	wantStatus(t, r, 401)
	wantBody(t, r, `{"statusCode":401,"error":"Unauthorized","message":"API key required"}`)

	for _, path := range []string{"/v2/api-keys?api_key=" + mgmt, "/v2/api-keys?key=" + mgmt} {
		r = call(t, s, "GET", path, "", nil)
		wantStatus(t, r, 401)
	}
	r = call(t, s, "POST", "/v2/api-keys", "", map[string]any{"name": "x", "api_key": mgmt})
	wantStatus(t, r, 401)

	req, _ := http.NewRequest("GET", s.URL()+"/v2/api-keys", nil)
	req.SetBasicAuth(mgmt, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("basic auth: status %d, want 401", resp.StatusCode)
	}

	r = call(t, s, "GET", "/v2/api-keys", "secret_"+strings.Repeat("x", 32), nil)
	wantStatus(t, r, 401)
	if len(s.Keys()) != 1 {
		t.Fatalf("rejected requests changed the workspace: %v", s.Keys())
	}
	if strings.Contains(r.raw, mgmt) {
		t.Fatal("an error body echoes the management key")
	}
}

func TestCreateMatchesDocs(t *testing.T) {
	s, _ := newServer(t, Config{})
	mgmt := s.ManagementKey()

	r := call(t, s, "POST", "/v2/api-keys", mgmt, map[string]any{"name": "My API Key", "scope": "sending", "sending_domain_id": 1234567890})
	wantStatus(t, r, 201)
	for _, f := range []string{"object", "id", "name", "scope", "sending_domain_id", "last_used_at", "created_at", "updated_at", "key"} {
		if _, ok := r.body[f]; !ok {
			t.Errorf("create response has no %q: %s", f, r.raw)
		}
	}
	if got := r.body["object"]; got != "api_key" {
		t.Errorf("object = %v", got)
	}
	if _, ok := r.body["id"].(float64); !ok {
		t.Errorf("id %v is not a JSON number", r.body["id"])
	}
	if got := r.body["sending_domain_id"]; got != float64(1234567890) {
		t.Errorf("sending_domain_id = %v", got)
	}
	if r.body["last_used_at"] != nil {
		t.Errorf("last_used_at = %v, want null", r.body["last_used_at"])
	}
	if got, want := r.body["created_at"], "2026-11-23T12:00:00Z"; got != want {
		t.Errorf("created_at = %v, want %v", got, want)
	}
	key, _ := r.body["key"].(string)
	if !regexp.MustCompile(`^secret_[A-Za-z0-9]{32}$`).MatchString(key) {
		t.Errorf("key %q is not secret_ + 32 alphanumerics", key)
	}
	if !s.Valid(providers.Credential{"api_key": key}) {
		t.Error("the new key is not valid")
	}

	// Scope defaults to full; full keys ignore sending_domain_id.
	r = call(t, s, "POST", "/v2/api-keys", mgmt, map[string]any{"name": "Another API Key", "sending_domain_id": 5})
	wantStatus(t, r, 201)
	if r.body["scope"] != "full" || r.body["sending_domain_id"] != nil {
		t.Errorf("default scope: %s", r.raw)
	}
	// Newer docs: string domain ids.
	r = call(t, s, "POST", "/v2/api-keys", mgmt, map[string]any{"name": "dom", "scope": "sending", "sending_domain_id": "dom_abc"})
	wantStatus(t, r, 201)
	if r.body["sending_domain_id"] != "dom_abc" {
		t.Errorf("string domain id: %s", r.raw)
	}
	r = call(t, s, "POST", "/v2/api-keys", mgmt, map[string]any{"name": "ev", "scope": "events"})
	wantStatus(t, r, 201)

	for name, body := range map[string]any{
		"no name":         map[string]any{"scope": "full"},
		"empty name":      map[string]any{"name": " "},
		"numeric name":    map[string]any{"name": 5},
		"unknown scope":   map[string]any{"name": "a", "scope": "admin"},
		"fractional dom":  map[string]any{"name": "b", "scope": "sending", "sending_domain_id": 1.5},
		"not json":        "{name:",
		"not an object":   `["name"]`,
		"too long a name": map[string]any{"name": strings.Repeat("n", 256)},
	} {
		r = call(t, s, "POST", "/v2/api-keys", mgmt, body)
		if r.status != 400 || r.body["statusCode"] != float64(400) || r.body["error"] != "Bad Request" {
			t.Errorf("%s: %d %s, want a 400 request error", name, r.status, r.raw)
		}
	}
	if got := len(s.Keys()); got != 5 {
		t.Errorf("%d keys, want 5", got)
	}
}

func TestCreateDuplicateName(t *testing.T) {
	s, _ := newServer(t, Config{})
	mgmt := s.ManagementKey()
	first := call(t, s, "POST", "/v2/api-keys", mgmt, map[string]any{"name": "My API Key"})
	wantStatus(t, first, 201)
	r := call(t, s, "POST", "/v2/api-keys", mgmt, map[string]any{"name": "My API Key", "scope": "sending"})
	wantStatus(t, r, 409)
	want, _ := json.Marshal(map[string]any{
		"error":    map[string]any{"code": 409, "message": "API key already exists"},
		"existing": map[string]any{"object": "api_key", "id": first.body["id"], "name": "My API Key"},
	})
	wantBody(t, r, string(want))
	if strings.Contains(r.raw, first.body["key"].(string)) {
		t.Fatal("the 409 body reveals the existing key's secret")
	}
}

func TestGetListDelete(t *testing.T) {
	s, clk := newServer(t, Config{})
	mgmt := s.ManagementKey()
	created := call(t, s, "POST", "/v2/api-keys", mgmt, map[string]any{"name": "k1", "scope": "sending"})
	id := jsonID(created.body["id"])

	r := call(t, s, "GET", "/v2/api-keys/"+id, mgmt, nil)
	wantStatus(t, r, 200)
	if _, ok := r.body["key"]; ok {
		t.Fatalf("get reveals the secret: %s", r.raw)
	}
	if r.body["object"] != "api_key" || r.body["name"] != "k1" || r.body["scope"] != "sending" {
		t.Fatalf("get: %s", r.raw)
	}

	r = call(t, s, "GET", "/v2/api-keys/999", mgmt, nil)
	wantStatus(t, r, 404)
	wantBody(t, r, `{"error":{"code":404,"message":"API key not found"}}`)

	// last_used_at moves when a key is used.
	clk.Advance(time.Hour)
	r = call(t, s, "POST", "/v2/emails", created.body["key"].(string), map[string]any{"from": "a@x", "to": "b@y", "subject": "hi"})
	wantStatus(t, r, 200)
	r = call(t, s, "GET", "/v2/api-keys/"+id, mgmt, nil)
	if got, want := r.body["last_used_at"], "2026-11-23T13:00:00Z"; got != want {
		t.Fatalf("last_used_at = %v, want %v", got, want)
	}

	r = call(t, s, "DELETE", "/v2/api-keys/"+id, mgmt, nil)
	wantStatus(t, r, 200)
	wantBody(t, r, `{"object":"api_key","id":`+id+`,"name":"k1","deleted":true}`)
	r = call(t, s, "DELETE", "/v2/api-keys/"+id, mgmt, nil)
	wantStatus(t, r, 404)
	wantBody(t, r, `{"error":{"code":404,"message":"API key not found"}}`)
	if s.Valid(providers.Credential{"api_key": created.body["key"].(string)}) {
		t.Fatal("a deleted key is still valid")
	}
	r = call(t, s, "POST", "/v2/emails", created.body["key"].(string), map[string]any{"from": "a@x", "to": "b@y", "subject": "hi"})
	wantStatus(t, r, 401)
}

func jsonID(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

func TestListPagination(t *testing.T) {
	for _, style := range []string{PageURLAbsolute, PageURLPath} {
		t.Run(style, func(t *testing.T) {
			s, _ := newServer(t, Config{PageURLStyle: style})
			mgmt := s.ManagementKey()
			for i := 0; i < 24; i++ {
				s.CreateKey("k", "")
			}
			prefix := ""
			if style == PageURLAbsolute {
				prefix = s.URL()
			}
			r := call(t, s, "GET", "/v2/api-keys", mgmt, nil)
			wantStatus(t, r, 200)
			if got := len(r.body["data"].([]any)); got != 10 {
				t.Fatalf("default page has %d keys, want 10", got)
			}
			if got, want := r.body["next_page_url"], prefix+"/v2/api-keys?page=2&limit=10"; got != want {
				t.Fatalf("next_page_url = %v, want %v", got, want)
			}
			if r.body["previous_page_url"] != nil {
				t.Fatalf("previous_page_url = %v on page 1", r.body["previous_page_url"])
			}
			r = call(t, s, "GET", "/v2/api-keys?page=3&limit=10", mgmt, nil)
			if got := len(r.body["data"].([]any)); got != 5 {
				t.Fatalf("last page has %d keys, want 5", got)
			}
			if r.body["next_page_url"] != nil {
				t.Fatalf("next_page_url = %v on the last page", r.body["next_page_url"])
			}
			if got, want := r.body["previous_page_url"], prefix+"/v2/api-keys?page=2&limit=10"; got != want {
				t.Fatalf("previous_page_url = %v, want %v", got, want)
			}
			r = call(t, s, "GET", "/v2/api-keys?limit=100", mgmt, nil)
			if got := len(r.body["data"].([]any)); got != 25 {
				t.Fatalf("limit=100 gives %d keys, want 25", got)
			}
			item := r.body["data"].([]any)[0].(map[string]any)
			for _, f := range []string{"id", "name", "scope", "sending_domain_id", "last_used_at", "created_at", "updated_at"} {
				if _, ok := item[f]; !ok {
					t.Errorf("list item has no %q", f)
				}
			}
			if _, ok := item["key"]; ok {
				t.Error("list reveals secrets")
			}
			for _, q := range []string{"limit=0", "limit=101", "limit=abc", "page=0", "page=x"} {
				r = call(t, s, "GET", "/v2/api-keys?"+q, mgmt, nil)
				if r.status != 400 || r.body["details"] == nil {
					t.Errorf("%s: %d %s, want 400 with details", q, r.status, r.raw)
				}
			}
		})
	}
}

func TestScopes(t *testing.T) {
	s, _ := newServer(t, Config{})
	sending := s.CreateKey("send", "sending").Key
	events := s.CreateKey("ev", "events").Key
	id := s.Keys()[1].ID
	for _, c := range []struct{ method, path string }{
		{"GET", "/v2/api-keys"}, {"GET", "/v2/api-keys/" + id}, {"POST", "/v2/api-keys"},
		{"POST", "/v2/api-keys/" + id}, {"DELETE", "/v2/api-keys/" + id},
	} {
		for _, key := range []string{sending, events} {
			r := call(t, s, c.method, c.path, key, map[string]any{"name": "n"})
			wantStatus(t, r, 403)
			if r.body["statusCode"] != float64(403) {
				t.Errorf("%s %s: 403 body %s", c.method, c.path, r.raw)
			}
		}
	}
	mail := map[string]any{"from": "a@x", "to": "b@y", "subject": "hi"}
	wantStatus(t, call(t, s, "POST", "/v2/emails", sending, mail), 200)
	wantStatus(t, call(t, s, "POST", "/v2/emails", events, mail), 403)
	if len(s.Keys()) != 3 {
		t.Fatal("a forbidden request changed the workspace")
	}
}

func TestUpdate(t *testing.T) {
	s, _ := newServer(t, Config{})
	mgmt := s.ManagementKey()
	a := s.CreateKey("a", "sending")
	s.CreateKey("b", "")
	r := call(t, s, "POST", "/v2/api-keys/"+a.ID, mgmt, map[string]any{"name": "b"})
	wantStatus(t, r, 409)
	wantBody(t, r, `{"error":{"code":409,"message":"API key name already exists"}}`)
	wantStatus(t, call(t, s, "POST", "/v2/api-keys/"+a.ID, mgmt, map[string]any{"name": "c", "scope": "full"}), 400)
	r = call(t, s, "POST", "/v2/api-keys/"+a.ID, mgmt, map[string]any{"name": "c"})
	wantStatus(t, r, 200)
	if r.body["name"] != "c" || r.body["scope"] != "sending" {
		t.Fatalf("update: %s", r.raw)
	}
}

func TestRateLimit(t *testing.T) {
	clk := clockwork.NewFakeClockAt(start)
	s := New(Config{Clock: clk})
	defer s.Close()
	mgmt := s.ManagementKey()

	// Unauthenticated requests have no workspace and do not count.
	wantStatus(t, call(t, s, "GET", "/v2/api-keys", "", nil), 401)
	wantStatus(t, call(t, s, "GET", "/v2/api-keys", mgmt, nil), 200)
	clk.Advance(500 * time.Millisecond)
	wantStatus(t, call(t, s, "GET", "/v2/api-keys", mgmt, nil), 200)
	r := call(t, s, "GET", "/v2/api-keys", mgmt, nil)
	wantStatus(t, r, 429)
	if got := r.header.Get("Retry-After"); got != "1" {
		t.Fatalf("Retry-After = %q, want 1", got)
	}
	if r.body["error"] != "Rate limit exceeded" || r.body["limit"] != float64(2) || r.body["current"] != float64(2) || r.body["retry_after"] != float64(1) {
		t.Fatalf("429 body %s", r.raw)
	}
	// The window slides: after 0.5 s the first request has left it.
	clk.Advance(500 * time.Millisecond)
	wantStatus(t, call(t, s, "GET", "/v2/api-keys", mgmt, nil), 200)
	wantStatus(t, call(t, s, "GET", "/v2/api-keys", mgmt, nil), 429)
	if got := s.RateLimited(); got != 2 {
		t.Fatalf("RateLimited = %d, want 2", got)
	}
	if got := s.Requests()[OpList]; got != 6 {
		t.Fatalf("Requests[list] = %d, want 6", got)
	}
}

func TestFaults(t *testing.T) {
	s, clk := newServer(t, Config{})
	mgmt := s.ManagementKey()

	s.FailNext(OpCreate, 2, 503)
	s.FailNext("revoke", 1, 429)
	for i := 0; i < 2; i++ {
		r := call(t, s, "POST", "/v2/api-keys", mgmt, map[string]any{"name": "x"})
		wantStatus(t, r, 503)
		wantBody(t, r, `{"error":{"code":503,"message":"Service Unavailable"}}`)
	}
	wantStatus(t, call(t, s, "POST", "/v2/api-keys", mgmt, map[string]any{"name": "x"}), 201)
	r := call(t, s, "DELETE", "/v2/api-keys/1", mgmt, nil)
	wantStatus(t, r, 429)
	if r.header.Get("Retry-After") == "" || r.body["retry_after"] == nil {
		t.Fatalf("injected 429: %v %s", r.header, r.raw)
	}
	if got := s.Requests(); got[OpCreate] != 3 || got[OpDelete] != 1 {
		t.Fatalf("Requests = %v", got)
	}

	// "" fails whatever comes next.
	s.FailNext("", 1, 400)
	wantStatus(t, call(t, s, "GET", "/v2/api-keys/1", mgmt, nil), 400)
	wantStatus(t, call(t, s, "GET", "/v2/api-keys", mgmt, nil), 200)

	// A dropped create: the key exists, the client gets no answer.
	s.DropNextCreate()
	body := strings.NewReader(`{"name":"dropped"}`)
	req, _ := http.NewRequest("POST", s.URL()+"/v2/api-keys", body)
	req.Header.Set("Authorization", "Bearer "+mgmt)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped create answered %d", resp.StatusCode)
	}
	found := false
	for _, k := range s.Keys() {
		found = found || k.Name == "dropped"
	}
	if !found {
		t.Fatal("the dropped create did not create the key")
	}

	// Latency runs on the injected clock.
	s.SetLatency(10 * time.Second)
	done := make(chan reply, 1)
	go func() { done <- call(t, s, "GET", "/v2/api-keys", mgmt, nil) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		t.Fatal("answered before the latency elapsed")
	default:
	}
	clk.Advance(10 * time.Second)
	wantStatus(t, <-done, 200)
}

func TestQuirkyAndStringIDs(t *testing.T) {
	s, _ := newServer(t, Config{Quirky: true, StringIDs: true})
	mgmt := s.ManagementKey()
	r := call(t, s, "POST", "/v2/api-keys", mgmt, map[string]any{"name": "q", "scope": "sending", "sending_domain_id": 7})
	wantStatus(t, r, 201)
	id, ok := r.body["id"].(string)
	if !ok || !strings.HasPrefix(id, "ak_") {
		t.Fatalf("id = %v, want an ak_ string", r.body["id"])
	}
	if r.body["sending_domain_id"] != "7" || r.body["created_at"] != "2026-11-23 12:00:00" {
		t.Fatalf("quirky create: %s", r.raw)
	}
	r = call(t, s, "DELETE", "/v2/api-keys/"+id, mgmt, nil)
	if r.body["deleted"] != float64(1) {
		t.Fatalf("quirky delete: %s", r.raw)
	}
	r = call(t, s, "GET", "/v2/nothing", mgmt, nil)
	wantStatus(t, r, 404)
}
