package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
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
	require.NoError(t, e.clock.BlockUntilContext(ctx, n), "waiting for %d sleepers on the fake clock", n)
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
	require.NoError(t, err)
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
	require.ErrorAs(t, err, &pe)
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
	require.NoError(t, err)
	require.Equal(t, 201, resp.Status)
	require.Equal(t, `{"ok":true}`, string(resp.Body))
	require.Equal(t, "POST", got.method)
	require.Equal(t, "/api/v1/x", got.path)
	require.Equal(t, "grant_type=password&limit=10", got.query)
	require.Equal(t, "rotator/test", got.ua)
	require.Equal(t, "application/json", got.ctype)
	require.Equal(t, "application/json", got.accept)
	require.Equal(t, map[string]string{"name": "n"}, got.body)
	require.Equal(t, "201", e.rec.next(t))
}

func TestBaseURLWithPathPrefix(t *testing.T) {
	var path string
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) { path = r.URL.Path })
	c := e.client(t, httpapi.Config{BaseURL: e.srv.URL + "/prefix/"})
	_, err := c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/v2/api-keys"})
	require.NoError(t, err)
	require.Equal(t, "/prefix/v2/api-keys", path)
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
		require.Equal(t, want, pe.Reason, "status %d", status)
		require.Equal(t, status, pe.Status)
		require.Equal(t, "40410", pe.Code)
		require.Equal(t, "resource not found", pe.Message)
		require.Equal(t, status, resp.Status)
		require.EqualValues(t, 1, e.hits.Load(), "non-idempotent call must not be retried")
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
		require.Equal(t, "503", e.rec.next(t))
		e.blockUntil(t, 1) // the backoff timer
		require.EqualValues(t, i+1, e.hits.Load(), "retried before the backoff elapsed")
		e.clock.Advance(time.Second)
	}
	require.Equal(t, "200", e.rec.next(t))
	r := wait(t, ch)
	require.NoError(t, r.err)
	require.Equal(t, "[]", string(r.resp.Body))
	require.EqualValues(t, 3, e.hits.Load())
}

func TestRetriesAreBounded(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	c := e.client(t, httpapi.Config{MaxRetries: 2})
	ch := goDo(context.Background(), c, httpapi.Request{Op: "list", Method: "GET", Path: "/k", Idempotent: true})
	for i := 0; i < 2; i++ {
		require.Equal(t, "500", e.rec.next(t))
		e.blockUntil(t, 1)
		e.clock.Advance(time.Second)
	}
	require.Equal(t, "500", e.rec.next(t))
	r := wait(t, ch)
	require.Equal(t, providers.ReasonServer, reasonOf(t, r.err).Reason)
	require.EqualValues(t, 3, e.hits.Load())
}

func TestNonIdempotentNotRetried(t *testing.T) {
	t.Run("5xx", func(t *testing.T) {
		e := newEnv(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) })
		c := e.client(t, httpapi.Config{})
		_, err := c.Do(context.Background(), httpapi.Request{Op: "create", Method: "POST", Path: "/k", Body: map[string]string{}})
		require.Equal(t, providers.ReasonServer, reasonOf(t, err).Reason)
		require.EqualValues(t, 1, e.hits.Load())
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
		require.Equal(t, providers.ReasonTimeout, pe.Reason)
		require.Zero(t, pe.Status)
		require.NotContains(t, err.Error(), e.srv.URL, "errors stay short")
		require.Equal(t, "error", e.rec.next(t))
		require.EqualValues(t, 1, e.hits.Load())
	})
	t.Run("429 without RetryRateLimited", func(t *testing.T) {
		e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(429)
			_, _ = io.WriteString(w, `{"message":"slow down","retry_after":3}`)
		})
		c := e.client(t, httpapi.Config{})
		_, err := c.Do(context.Background(), httpapi.Request{Op: "create", Method: "POST", Path: "/k"})
		pe := reasonOf(t, err)
		require.Equal(t, providers.ReasonRateLimited, pe.Reason)
		require.Equal(t, 3*time.Second, pe.RetryAfter, "body's retry_after used without a header")
		require.EqualValues(t, 1, e.hits.Load())
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
	require.Equal(t, "429", e.rec.next(t))
	e.blockUntil(t, 1)
	e.clock.Advance(2 * time.Second)
	r := wait(t, ch)
	require.NoError(t, r.err)
	require.EqualValues(t, 2, e.hits.Load())
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
	require.Equal(t, "429", e.rec.next(t))
	e.blockUntil(t, 1) // a waits out the pause
	b, d := goDo(ctx, c, req), goDo(ctx, c, req)
	e.blockUntil(t, 3) // b and d wait too instead of calling
	e.clock.Advance(6 * time.Second)
	e.blockUntil(t, 3) // the header's 7s wins over the body's 1s
	require.EqualValues(t, 1, e.hits.Load())
	e.clock.Advance(time.Second)
	// After the pause the three share the rate limit (1000/s, burst 1):
	// one goes now, the other two about 1 and 2 ms later.
	e.blockUntil(t, 2)
	e.clock.Advance(3 * time.Millisecond)
	for _, ch := range []chan result{a, b, d} {
		require.NoError(t, wait(t, ch).err)
	}
	require.EqualValues(t, 4, e.hits.Load(), "the 429, then a's retry, b and d")
}

func TestRateLimitSharedOnTheClock(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {})
	core, _ := observer.New(zapcore.DebugLevel)
	c, err := httpapi.New(httpapi.Config{BaseURL: e.srv.URL, RateLimit: 1}, 50,
		providers.Deps{Deps: backend.Deps{Logger: zap.New(core), Clock: e.clock}, Observer: e.rec}, decodeErr)
	require.NoError(t, err)
	req := httpapi.Request{Op: "get", Method: "GET", Path: "/k", Idempotent: true}
	require.NoError(t, wait(t, goDo(context.Background(), c, req)).err) // the burst token
	second := goDo(context.Background(), c, req)
	e.blockUntil(t, 1)
	e.clock.Advance(999 * time.Millisecond)
	e.blockUntil(t, 1)
	require.EqualValues(t, 1, e.hits.Load(), "second call inside the same second")
	e.clock.Advance(time.Millisecond)
	require.NoError(t, wait(t, second).err)
	require.EqualValues(t, 2, e.hits.Load())
}

func TestBodySizeBound(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 1025))
	})
	c := e.client(t, httpapi.Config{}, httpapi.WithMaxBody(1024))
	_, err := c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/k"})
	pe := reasonOf(t, err)
	require.Equal(t, providers.ReasonClient, pe.Reason)
	require.Contains(t, err.Error(), "larger than 1024 bytes")

	e2 := newEnv(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, strings.Repeat("x", 1024)) })
	c2 := e2.client(t, httpapi.Config{}, httpapi.WithMaxBody(1024))
	resp, err := c2.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/k"})
	require.NoError(t, err)
	require.Len(t, resp.Body, 1024)
}

func TestNextURLHostCheck(t *testing.T) {
	var got string
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) { got = r.URL.RequestURI() })
	c := e.client(t, httpapi.Config{})
	for _, bad := range []string{"http://evil.example/v2/api-keys?page=2", "https://" + strings.TrimPrefix(e.srv.URL, "http://") + "/x", "//evil.example/x"} {
		_, err := c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: bad, Idempotent: true})
		require.Equal(t, providers.ReasonClient, reasonOf(t, err).Reason, bad)
		require.Contains(t, err.Error(), "another host")
	}
	require.Zero(t, e.hits.Load())
	_, err := c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: e.srv.URL + "/v2/api-keys?page=2&limit=10"})
	require.NoError(t, err)
	require.Equal(t, "/v2/api-keys?page=2&limit=10", got)
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
		require.ErrorIs(t, r.err, context.Canceled)
		require.Equal(t, providers.ReasonTimeout, reasonOf(t, r.err).Reason)
		require.EqualValues(t, 1, e.hits.Load(), "a cancelled call is not retried")
	})
	t.Run("waiting for the rate limit", func(t *testing.T) {
		e2 := newEnv(t, func(w http.ResponseWriter, r *http.Request) {})
		c2, err := httpapi.New(httpapi.Config{BaseURL: e2.srv.URL, RateLimit: 0.001}, 1,
			providers.Deps{Deps: backend.Deps{Clock: e2.clock}}, decodeErr)
		require.NoError(t, err)
		require.NoError(t, wait(t, goDo(context.Background(), c2, httpapi.Request{Op: "get", Method: "GET", Path: "/"})).err)
		ctx, cancel := context.WithCancel(context.Background())
		ch := goDo(ctx, c2, httpapi.Request{Op: "get", Method: "GET", Path: "/"})
		e2.blockUntil(t, 1)
		cancel()
		r := wait(t, ch)
		require.ErrorIs(t, r.err, context.Canceled)
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
	require.Error(t, err)
	for _, s := range []string{user, pass, refresh, httpapi.BasicAuth(user, pass)} {
		require.NotContains(t, err.Error(), s)
		for _, entry := range e.logs.All() {
			line, _ := json.Marshal(entry.ContextMap())
			require.NotContains(t, entry.Message+string(line), s)
		}
	}
	require.Contains(t, err.Error(), "code 40102")
	require.NotEmpty(t, e.logs.All())
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
	require.NoError(t, err)
	_, err = c.Do(context.Background(), httpapi.Request{Op: "get", Method: "GET", Path: "/k", Idempotent: true})
	require.True(t, providers.IsNotFound(err))
	require.Equal(t, []string{"p/get/404"}, ops)
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
		require.Error(t, err, "%+v", cfg)
		require.NotContains(t, err.Error(), "u:p")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"3": 3 * time.Second, "0": 0, "1.5": 1500 * time.Millisecond,
		"Thu, 01 Jan 2026 00:00:10 GMT": 10 * time.Second,
	} {
		got, ok := httpapi.ParseRetryAfter(v, now)
		require.True(t, ok, v)
		require.Equal(t, want, got, v)
	}
	for _, v := range []string{"", "soon", "-1", "99999999", "3abc", "NaN"} {
		_, ok := httpapi.ParseRetryAfter(v, now)
		require.False(t, ok, v)
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
	require.ErrorContains(t, err, "larger than 1024 bytes")
	resp, err := c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/k", MaxBody: 4096})
	require.NoError(t, err)
	require.Len(t, resp.Body, 2048)
	_, err = c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/k", MaxBody: 2000})
	require.ErrorContains(t, err, "larger than 2000 bytes")
}
