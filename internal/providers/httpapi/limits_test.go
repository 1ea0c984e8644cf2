package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

func TestBodySizeBound(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 1025))
	})
	c := e.client(t, httpapi.Config{}, httpapi.WithMaxBody(1024))
	_, err := c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/k"})
	pe := reasonOf(t, err)
	if pe.Reason != providers.ReasonClient {
		t.Fatalf("pe.Reason = %q, want %q", pe.Reason, providers.ReasonClient)
	}
	if got := err.Error(); !strings.Contains(got, "larger than 1024 bytes") {
		t.Fatalf("got %q, want it to contain %q", got, "larger than 1024 bytes")
	}

	e2 := newEnv(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, strings.Repeat("x", 1024)) })
	c2 := e2.client(t, httpapi.Config{}, httpapi.WithMaxBody(1024))
	resp, err := c2.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/k"})
	if err != nil {
		t.Fatalf("c2.Do: %v", err)
	}
	if len(resp.Body) != 1024 {
		t.Fatalf("len(resp.Body) = %d, want %d: %+v", len(resp.Body), 1024, resp.Body)
	}
}

func TestNextURLHostCheck(t *testing.T) {
	var got string
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) { got = r.URL.RequestURI() })
	c := e.client(t, httpapi.Config{})
	for _, bad := range []string{"http://evil.example/v2/api-keys?page=2", "https://" + strings.TrimPrefix(e.srv.URL, "http://") + "/x", "//evil.example/x"} {
		_, err := c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: bad, Idempotent: true})
		if got := reasonOf(t, err).Reason; got != providers.ReasonClient {
			t.Fatalf("%s: got %q, want %q", bad, got, providers.ReasonClient)
		}
		if got := err.Error(); !strings.Contains(got, "another host") {
			t.Fatalf("got %q, want it to contain %q", got, "another host")
		}
	}
	if got := e.hits.Load(); got != 0 {
		t.Fatalf("e.hits.Load() = %v, want zero", got)
	}
	_, err := c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: e.srv.URL + "/v2/api-keys?page=2&limit=10"})
	if err != nil {
		t.Fatalf("c.Do: %v", err)
	}
	if got != "/v2/api-keys?page=2&limit=10" {
		t.Fatalf("got = %q, want %q", got, "/v2/api-keys?page=2&limit=10")
	}
}

func TestNoCredentialInErrorsOrLogs(t *testing.T) {
	const user, pass, refresh = "admin@example.com", "s3cr3t+/pass==", "refresh-token-value"
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		body, _ := json.Marshal(map[string]any{"code": 40102,
			"message": "bad login " + r.Header.Get("Authorization") + " " + pass + " " + user + " " + refresh})
		_, _ = w.Write(body)
	})
	c := e.client(t, httpapi.Config{})
	_, err := c.Do(context.Background(), httpapi.Request{Op: "login", Method: "POST", Path: "/oauth/token",
		Header: httpapi.AuthHeader(httpapi.BasicAuth(user, pass)), Body: map[string]string{"refresh_token": refresh},
		Secrets: []string{refresh}})
	if err == nil {
		t.Fatalf("c.Do: got no error, want one")
	}
	for _, s := range []string{user, pass, refresh, httpapi.BasicAuth(user, pass)} {
		if got := err.Error(); strings.Contains(got, s) {
			t.Fatalf("got %q, want it not to contain %q", got, s)
		}
		for _, entry := range e.logs.All() {
			line, _ := json.Marshal(entry.ContextMap())
			if strings.Contains(entry.Message+string(line), s) {
				t.Fatalf("got %q, want it not to contain %q", entry.Message+string(line), s)
			}
		}
	}
	if got := err.Error(); !strings.Contains(got, "code 40102") {
		t.Fatalf("got %q, want it to contain %q", got, "code 40102")
	}
	if got := e.logs.All(); len(got) == 0 {
		t.Fatalf("e.logs.All() = %+v, want non-empty", got)
	}
}

// TestRequestMaxBody: one request (an unpaginated list that grows with the
// account) may raise the client's bound, and only that request.
func TestRequestMaxBody(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 2048))
	})
	c := e.client(t, httpapi.Config{}, httpapi.WithMaxBody(1024))
	_, err := c.Do(context.Background(), httpapi.Request{Op: "get", Method: "GET", Path: "/k"})
	if err == nil || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Fatalf("c.Do: got error %v, want one containing %q", err, "larger than 1024 bytes")
	}
	resp, err := c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/k", MaxBody: 4096})
	if err != nil {
		t.Fatalf("c.Do: %v", err)
	}
	if len(resp.Body) != 2048 {
		t.Fatalf("len(resp.Body) = %d, want %d: %+v", len(resp.Body), 2048, resp.Body)
	}
	_, err = c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/k", MaxBody: 2000})
	if err == nil || !strings.Contains(err.Error(), "larger than 2000 bytes") {
		t.Fatalf("c.Do: got error %v, want one containing %q", err, "larger than 2000 bytes")
	}
}
