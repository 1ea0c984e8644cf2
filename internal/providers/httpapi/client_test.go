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
