package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/backend"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

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
