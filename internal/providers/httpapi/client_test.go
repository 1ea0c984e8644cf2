package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/backend"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// recorder is a RequestObserver that reports every attempt on a channel, so
// a test knows when an attempt is over and the client is about to wait.
type recorder struct{ codes chan string }

func (r recorder) ObserveRequest(provider, op, code string, took time.Duration) { r.codes <- code }

func (r recorder) next(t *testing.T) string {
	t.Helper()
	select {
	case c := <-r.codes:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no request observed")
		return ""
	}
}

func decodeErr(status int, body []byte) (string, string, time.Duration) {
	var e struct {
		Code       json.Number `json:"code"`
		Message    string      `json:"message"`
		RetryAfter int         `json:"retry_after"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Code.String(), e.Message, time.Duration(e.RetryAfter) * time.Second
}

type env struct {
	srv   *httptest.Server
	clock *clockwork.FakeClock
	rec   recorder
	logs  *observer.ObservedLogs
	hits  atomic.Int64
}

func newEnv(t *testing.T, h http.HandlerFunc) *env {
	t.Helper()
	e := &env{clock: clockwork.NewFakeClock(), rec: recorder{codes: make(chan string, 100)}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// blockUntil waits until n goroutines sleep on the fake clock; a sleeper
// that never comes fails the test after 10 s instead of hanging it.
func (e *env) blockUntil(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := e.clock.BlockUntilContext(ctx, n); err != nil {
		t.Fatalf("waiting for %d sleepers on the fake clock: %v", n, err)
	}
}

func (e *env) client(t *testing.T, cfg httpapi.Config, opts ...httpapi.Option) *httpapi.Client {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	e.logs = logs
	if cfg.BaseURL == "" {
		cfg.BaseURL = e.srv.URL
	}
	opts = append([]httpapi.Option{httpapi.WithBackoff(100*time.Millisecond, time.Second)}, opts...)
	c, err := httpapi.New(cfg, 1000, providers.Deps{Deps: backend.Deps{Name: "test", Logger: zap.New(core), Clock: e.clock, UserAgent: "rotator/test"}, Observer: e.rec}, decodeErr, opts...)
	if err != nil {
		t.Fatalf("httpapi.New: %v", err)
	}
	return c
}

type result struct {
	resp *httpapi.Response
	err  error
}

func goDo(ctx context.Context, c *httpapi.Client, req httpapi.Request) chan result {
	ch := make(chan result, 1)
	go func() {
		resp, err := c.Do(ctx, req)
		ch <- result{resp, err}
	}()
	return ch
}

func wait(t *testing.T, ch chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Do did not return")
		return result{}
	}
}

func reasonOf(t *testing.T, err error) *providers.Error {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Fatalf("got error %v, want one that is a %T", err, pe)
	}
	return pe
}

func TestDoSendsJSONWithUserAgentAndQuery(t *testing.T) {
	var got struct {
		method, path, query, ua, ctype, accept string
		body                                   map[string]string
	}
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		got.method, got.path, got.query = r.Method, r.URL.Path, r.URL.RawQuery
		got.ua, got.ctype, got.accept = r.UserAgent(), r.Header.Get("Content-Type"), r.Header.Get("Accept")
		_ = json.NewDecoder(r.Body).Decode(&got.body)
		w.WriteHeader(201)
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	c := e.client(t, httpapi.Config{})
	resp, err := c.Do(context.Background(), httpapi.Request{Op: "create", Method: "POST", Path: "/api/v1/x?grant_type=password",
		Query: map[string][]string{"limit": {"10"}}, Body: map[string]string{"name": "n"}})
	if err != nil {
		t.Fatalf("c.Do: %v", err)
	}
	if resp.Status != 201 {
		t.Fatalf("resp.Status = %v, want %v", resp.Status, 201)
	}
	if string(resp.Body) != `{"ok":true}` {
		t.Fatalf("string(resp.Body) = %q, want %q", string(resp.Body), `{"ok":true}`)
	}
	if got.method != "POST" {
		t.Fatalf("got.method = %q, want %q", got.method, "POST")
	}
	if got.path != "/api/v1/x" {
		t.Fatalf("got.path = %q, want %q", got.path, "/api/v1/x")
	}
	if got.query != "grant_type=password&limit=10" {
		t.Fatalf("got.query = %q, want %q", got.query, "grant_type=password&limit=10")
	}
	if got.ua != "rotator/test" {
		t.Fatalf("got.ua = %q, want %q", got.ua, "rotator/test")
	}
	if got.ctype != "application/json" {
		t.Fatalf("got.ctype = %q, want %q", got.ctype, "application/json")
	}
	if got.accept != "application/json" {
		t.Fatalf("got.accept = %q, want %q", got.accept, "application/json")
	}
	if want := map[string]string{"name": "n"}; !reflect.DeepEqual(want, got.body) {
		t.Fatalf("got.body = %+v, want %+v", got.body, want)
	}
	if got := e.rec.next(t); got != "201" {
		t.Fatalf("e.rec.next(t) = %q, want %q", got, "201")
	}
}

func TestBaseURLWithPathPrefix(t *testing.T) {
	var path string
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) { path = r.URL.Path })
	c := e.client(t, httpapi.Config{BaseURL: e.srv.URL + "/prefix/"})
	_, err := c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/v2/api-keys"})
	if err != nil {
		t.Fatalf("c.Do: %v", err)
	}
	if path != "/prefix/v2/api-keys" {
		t.Fatalf("path = %q, want %q", path, "/prefix/v2/api-keys")
	}
}

func TestStatusClassification(t *testing.T) {
	cases := map[int]providers.Reason{
		400: providers.ReasonClient, 401: providers.ReasonAuth, 403: providers.ReasonAuth,
		404: providers.ReasonNotFound, 409: providers.ReasonConflict, 422: providers.ReasonClient,
		429: providers.ReasonRateLimited, 500: providers.ReasonServer, 503: providers.ReasonServer,
	}
	for status, want := range cases {
		e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"code":40410,"message":"resource not found"}`)
		})
		c := e.client(t, httpapi.Config{})
		resp, err := c.Do(context.Background(), httpapi.Request{Op: "get", Method: "GET", Path: "/k"})
		pe := reasonOf(t, err)
		if pe.Reason != want {
			t.Fatalf("status %d: got %q, want %q", status, pe.Reason, want)
		}
		if pe.Status != status {
			t.Fatalf("pe.Status = %v, want %v", pe.Status, status)
		}
		if pe.Code != "40410" {
			t.Fatalf("pe.Code = %q, want %q", pe.Code, "40410")
		}
		if pe.Message != "resource not found" {
			t.Fatalf("pe.Message = %q, want %q", pe.Message, "resource not found")
		}
		if resp.Status != status {
			t.Fatalf("resp.Status = %v, want %v", resp.Status, status)
		}
		if got := e.hits.Load(); got != int64(1) {
			t.Fatalf("non-idempotent call must not be retried: got %v, want %v", got, int64(1))
		}
	}
}

func TestIdempotentRetriesServerErrorsOnTheClock(t *testing.T) {
	var n atomic.Int64
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			w.WriteHeader(503)
			return
		}
		_, _ = io.WriteString(w, "[]")
	})
	c := e.client(t, httpapi.Config{})
	ch := goDo(context.Background(), c, httpapi.Request{Op: "list", Method: "GET", Path: "/k", Idempotent: true})
	for i := 0; i < 2; i++ {
		if got := e.rec.next(t); got != "503" {
			t.Fatalf("e.rec.next(t) = %q, want %q", got, "503")
		}
		e.blockUntil(t, 1) // the backoff timer
		if got := e.hits.Load(); got != int64(i+1) {
			t.Fatalf("retried before the backoff elapsed: got %v, want %v", got, int64(i+1))
		}
		e.clock.Advance(time.Second)
	}
	if got := e.rec.next(t); got != "200" {
		t.Fatalf("e.rec.next(t) = %q, want %q", got, "200")
	}
	r := wait(t, ch)
	if r.err != nil {
		t.Fatalf("r.err: %v", r.err)
	}
	if string(r.resp.Body) != "[]" {
		t.Fatalf("string(r.resp.Body) = %q, want %q", string(r.resp.Body), "[]")
	}
	if got := e.hits.Load(); got != int64(3) {
		t.Fatalf("e.hits.Load() = %v, want %v", got, int64(3))
	}
}

func TestRetriesAreBounded(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	c := e.client(t, httpapi.Config{MaxRetries: 2})
	ch := goDo(context.Background(), c, httpapi.Request{Op: "list", Method: "GET", Path: "/k", Idempotent: true})
	for i := 0; i < 2; i++ {
		if got := e.rec.next(t); got != "500" {
			t.Fatalf("e.rec.next(t) = %q, want %q", got, "500")
		}
		e.blockUntil(t, 1)
		e.clock.Advance(time.Second)
	}
	if got := e.rec.next(t); got != "500" {
		t.Fatalf("e.rec.next(t) = %q, want %q", got, "500")
	}
	r := wait(t, ch)
	if got := reasonOf(t, r.err).Reason; got != providers.ReasonServer {
		t.Fatalf("reasonOf(t, r.err).Reason = %q, want %q", got, providers.ReasonServer)
	}
	if got := e.hits.Load(); got != int64(3) {
		t.Fatalf("e.hits.Load() = %v, want %v", got, int64(3))
	}
}

func TestNonIdempotentNotRetried(t *testing.T) {
	t.Run("5xx", func(t *testing.T) {
		e := newEnv(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) })
		c := e.client(t, httpapi.Config{})
		_, err := c.Do(context.Background(), httpapi.Request{Op: "create", Method: "POST", Path: "/k", Body: map[string]string{}})
		if got := reasonOf(t, err).Reason; got != providers.ReasonServer {
			t.Fatalf("reasonOf(t, err).Reason = %q, want %q", got, providers.ReasonServer)
		}
		if got := e.hits.Load(); got != int64(1) {
			t.Fatalf("e.hits.Load() = %v, want %v", got, int64(1))
		}
	})
	t.Run("dropped connection", func(t *testing.T) {
		e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		c := e.client(t, httpapi.Config{})
		_, err := c.Do(context.Background(), httpapi.Request{Op: "create", Method: "POST", Path: "/k", Body: map[string]string{}})
		pe := reasonOf(t, err)
		if pe.Reason != providers.ReasonTimeout {
			t.Fatalf("pe.Reason = %q, want %q", pe.Reason, providers.ReasonTimeout)
		}
		if pe.Status != 0 {
			t.Fatalf("pe.Status = %v, want zero", pe.Status)
		}
		if got := err.Error(); strings.Contains(got, e.srv.URL) {
			t.Fatalf("errors stay short: got %q, want it not to contain %q", got, e.srv.URL)
		}
		if got := e.rec.next(t); got != "error" {
			t.Fatalf("e.rec.next(t) = %q, want %q", got, "error")
		}
		if got := e.hits.Load(); got != int64(1) {
			t.Fatalf("e.hits.Load() = %v, want %v", got, int64(1))
		}
	})
	t.Run("429 without RetryRateLimited", func(t *testing.T) {
		e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(429)
			_, _ = io.WriteString(w, `{"message":"slow down","retry_after":3}`)
		})
		c := e.client(t, httpapi.Config{})
		_, err := c.Do(context.Background(), httpapi.Request{Op: "create", Method: "POST", Path: "/k"})
		pe := reasonOf(t, err)
		if pe.Reason != providers.ReasonRateLimited {
			t.Fatalf("pe.Reason = %q, want %q", pe.Reason, providers.ReasonRateLimited)
		}
		if pe.RetryAfter != 3*time.Second {
			t.Fatalf("body's retry_after used without a header: got %v, want %v", pe.RetryAfter, 3*time.Second)
		}
		if got := e.hits.Load(); got != int64(1) {
			t.Fatalf("e.hits.Load() = %v, want %v", got, int64(1))
		}
	})
}

func TestRetryRateLimitedNonIdempotent(t *testing.T) {
	var n atomic.Int64
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(429)
			return
		}
		w.WriteHeader(201)
	})
	c := e.client(t, httpapi.Config{})
	ch := goDo(context.Background(), c, httpapi.Request{Op: "create", Method: "POST", Path: "/k", RetryRateLimited: true})
	if got := e.rec.next(t); got != "429" {
		t.Fatalf("e.rec.next(t) = %q, want %q", got, "429")
	}
	e.blockUntil(t, 1)
	e.clock.Advance(2 * time.Second)
	r := wait(t, ch)
	if r.err != nil {
		t.Fatalf("r.err: %v", r.err)
	}
	if got := e.hits.Load(); got != int64(2) {
		t.Fatalf("e.hits.Load() = %v, want %v", got, int64(2))
	}
}

func TestRetryAfterPausesEveryCaller(t *testing.T) {
	var n atomic.Int64
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
			_, _ = io.WriteString(w, `{"message":"too many requests","retry_after":1}`)
			return
		}
		_, _ = io.WriteString(w, "{}")
	})
	c := e.client(t, httpapi.Config{})
	ctx := context.Background()
	req := httpapi.Request{Op: "get", Method: "GET", Path: "/k", Idempotent: true}
	a := goDo(ctx, c, req)
	if got := e.rec.next(t); got != "429" {
		t.Fatalf("e.rec.next(t) = %q, want %q", got, "429")
	}
	e.blockUntil(t, 1) // a waits out the pause
	b, d := goDo(ctx, c, req), goDo(ctx, c, req)
	e.blockUntil(t, 3) // b and d wait too instead of calling
	e.clock.Advance(6 * time.Second)
	e.blockUntil(t, 3) // the header's 7s wins over the body's 1s
	if got := e.hits.Load(); got != int64(1) {
		t.Fatalf("e.hits.Load() = %v, want %v", got, int64(1))
	}
	e.clock.Advance(time.Second)
	// After the pause the three share the rate limit (1000/s, burst 1):
	// one goes now, the other two about 1 and 2 ms later.
	e.blockUntil(t, 2)
	e.clock.Advance(3 * time.Millisecond)
	for _, ch := range []chan result{a, b, d} {
		if err2 := wait(t, ch).err; err2 != nil {
			t.Fatalf("wait(t, ch).err: %v", err2)
		}
	}
	if got := e.hits.Load(); got != int64(4) {
		t.Fatalf("the 429, then a's retry, b and d: got %v, want %v", got, int64(4))
	}
}

func TestRateLimitSharedOnTheClock(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {})
	core, _ := observer.New(zapcore.DebugLevel)
	c, err := httpapi.New(httpapi.Config{BaseURL: e.srv.URL, RateLimit: 1}, 50,
		providers.Deps{Deps: backend.Deps{Logger: zap.New(core), Clock: e.clock}, Observer: e.rec}, decodeErr)
	if err != nil {
		t.Fatalf("httpapi.New: %v", err)
	}
	req := httpapi.Request{Op: "get", Method: "GET", Path: "/k", Idempotent: true}
	if err2 := wait(t, goDo(context.Background(), c, req)).err; err2 != nil {
		t.Fatalf("wait(t, goDo(context.Background(), c, req)).err: %v", err2)
	} // the burst token
	second := goDo(context.Background(), c, req)
	e.blockUntil(t, 1)
	e.clock.Advance(999 * time.Millisecond)
	e.blockUntil(t, 1)
	if got := e.hits.Load(); got != int64(1) {
		t.Fatalf("second call inside the same second: got %v, want %v", got, int64(1))
	}
	e.clock.Advance(time.Millisecond)
	if err2 := wait(t, second).err; err2 != nil {
		t.Fatalf("wait(t, second).err: %v", err2)
	}
	if got := e.hits.Load(); got != int64(2) {
		t.Fatalf("e.hits.Load() = %v, want %v", got, int64(2))
	}
}

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

func TestContextCancelReturnsPromptly(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	entered := make(chan struct{}, 10)
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	c := e.client(t, httpapi.Config{})
	t.Run("in flight", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		ch := goDo(ctx, c, httpapi.Request{Op: "list", Method: "GET", Path: "/k", Idempotent: true})
		<-entered
		cancel()
		r := wait(t, ch)
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("r.err: got error %v, want one that is %v", r.err, context.Canceled)
		}
		if got := reasonOf(t, r.err).Reason; got != providers.ReasonTimeout {
			t.Fatalf("reasonOf(t, r.err).Reason = %q, want %q", got, providers.ReasonTimeout)
		}
		if got := e.hits.Load(); got != int64(1) {
			t.Fatalf("a cancelled call is not retried: got %v, want %v", got, int64(1))
		}
	})
	t.Run("waiting for the rate limit", func(t *testing.T) {
		e2 := newEnv(t, func(w http.ResponseWriter, r *http.Request) {})
		c2, err := httpapi.New(httpapi.Config{BaseURL: e2.srv.URL, RateLimit: 0.001}, 1,
			providers.Deps{Deps: backend.Deps{Clock: e2.clock}}, decodeErr)
		if err != nil {
			t.Fatalf("httpapi.New: %v", err)
		}
		if err2 := wait(t, goDo(context.Background(), c2, httpapi.Request{Op: "get", Method: "GET", Path: "/"})).err; err2 != nil {
			t.Fatalf("get: %v", err2)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ch := goDo(ctx, c2, httpapi.Request{Op: "get", Method: "GET", Path: "/"})
		e2.blockUntil(t, 1)
		cancel()
		r := wait(t, ch)
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("r.err: got error %v, want one that is %v", r.err, context.Canceled)
		}
	})
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

func TestObserverSeesEveryAttempt(t *testing.T) {
	var mu sync.Mutex
	var ops []string
	obs := observeFunc(func(provider, op, code string) {
		mu.Lock()
		defer mu.Unlock()
		ops = append(ops, provider+"/"+op+"/"+code)
	})
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) })
	c, err := httpapi.New(httpapi.Config{BaseURL: e.srv.URL}, 10, providers.Deps{Deps: backend.Deps{Name: "p", Clock: e.clock}, Observer: obs}, nil)
	if err != nil {
		t.Fatalf("httpapi.New: %v", err)
	}
	_, err = c.Do(context.Background(), httpapi.Request{Op: "get", Method: "GET", Path: "/k", Idempotent: true})
	if !providers.IsNotFound(err) {
		t.Fatalf("providers.IsNotFound(err): got false, want true")
	}
	if want := []string{"p/get/404"}; !reflect.DeepEqual(want, ops) {
		t.Fatalf("ops = %+v, want %+v", ops, want)
	}
}

type observeFunc func(provider, op, code string)

func (f observeFunc) ObserveRequest(provider, op, code string, _ time.Duration) {
	f(provider, op, code)
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []httpapi.Config{
		{}, {BaseURL: "ftp://x"}, {BaseURL: "http://"}, {BaseURL: "https://u:p@x"}, {BaseURL: "https://x", RateLimit: -1},
		{BaseURL: "https://x", MaxRetries: -1}, {BaseURL: "http://x"}, {BaseURL: "https://x", ListMaxKeys: -1},
	} {
		_, err := httpapi.New(cfg, 1, providers.Deps{}, nil)
		if err == nil {
			t.Fatalf("%+v: got no error, want one", cfg)
		}
		if got := err.Error(); strings.Contains(got, "u:p") {
			t.Fatalf("got %q, want it not to contain %q", got, "u:p")
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"3": 3 * time.Second, "0": 0, "1.5": 1500 * time.Millisecond,
		"Thu, 01 Jan 2026 00:00:10 GMT": 10 * time.Second,
	} {
		got, ok := httpapi.ParseRetryAfter(v, now)
		if !ok {
			t.Fatalf("%s: got false, want true", v)
		}
		if got != want {
			t.Fatalf("%s: got %v, want %v", v, got, want)
		}
	}
	for _, v := range []string{"", "soon", "-1", "99999999", "3abc", "NaN"} {
		_, ok := httpapi.ParseRetryAfter(v, now)
		if ok {
			t.Fatalf("%s: got true, want false", v)
		}
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
