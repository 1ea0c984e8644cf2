package smtpdtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

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
