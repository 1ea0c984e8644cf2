package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// Each retry of a failing provider is logged at info as attempt n of
// max_attempts, with the request, the reason and the wait; the last
// attempt is logged once as the give-up.
func TestRetriesAreLoggedAsAttemptNOfN(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	c := e.client(t, httpapi.Config{MaxRetries: 2})
	ch := goDo(context.Background(), c, httpapi.Request{Op: "list", Method: "GET", Path: "/k", Idempotent: true})
	for i := 0; i < 2; i++ {
		if got := e.rec.next(t); got != "503" {
			t.Fatalf("e.rec.next(t) = %q, want %q", got, "503")
		}
		e.blockUntil(t, 1)
		e.clock.Advance(time.Second)
	}
	if got := e.rec.next(t); got != "503" {
		t.Fatalf("e.rec.next(t) = %q, want %q", got, "503")
	}
	if got := reasonOf(t, wait(t, ch).err).Reason; got != providers.ReasonServer {
		t.Fatalf("reasonOf(t, wait(t, ch).err).Reason = %q, want %q", got, providers.ReasonServer)
	}

	retries := e.logs.FilterMessage("provider request failed; retrying").All()
	if len(retries) != 2 {
		t.Fatalf("len(retries) = %d, want %d: %+v", len(retries), 2, retries)
	}
	for i, l := range retries {
		f := l.ContextMap()
		if l.Level != zapcore.InfoLevel {
			t.Fatalf("l.Level = %v, want %v", l.Level, zapcore.InfoLevel)
		}
		if want := map[string]any{"op": "list", "method": "GET", "path": "/k", "attempt": int64(i + 1), "max_attempts": int64(3),
			"reason": "server", "error": "list: server (HTTP 503)", "retry_in": f["retry_in"]}; !reflect.DeepEqual(want, f) {
			t.Fatalf("f = %+v, want %+v", f, want)
		}
		if f["retry_in"].(time.Duration) <= 0 {
			t.Fatalf("f[\"retry_in\"].(time.Duration) = %v, want a positive value", f["retry_in"].(time.Duration))
		}
	}
	last := e.logs.FilterMessage("provider request failed; giving up").All()
	if len(last) != 1 {
		t.Fatalf("len(last) = %d, want %d: %+v", len(last), 1, last)
	}
	if last[0].Level != zapcore.DebugLevel {
		t.Fatalf("last[0].Level = %v, want %v", last[0].Level, zapcore.DebugLevel)
	}
	if got, want := last[0].ContextMap(), map[string]any{"op": "list", "method": "GET", "path": "/k", "attempt": int64(3), "max_attempts": int64(3),
		"reason": "server", "error": "list: server (HTTP 503)", "why": "no attempts left"}; !reflect.DeepEqual(want, got) {
		t.Fatalf("last[0].ContextMap() = %+v, want %+v", got, want)
	}
	if got := e.logs.FilterMessage("retrying request").Len(); got != 0 {
		t.Fatalf("e.logs.FilterMessage(\"retrying request\").Len() = %v, want zero", got)
	}
}

// A request with no answer ends at request_timeout, naming the request,
// the provider and the timeout; a create is not retried.
func TestRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	c := e.client(t, httpapi.Config{RequestTimeout: config.Duration(50 * time.Millisecond)})
	r := wait(t, goDo(context.Background(), c, httpapi.Request{Op: "create", Method: "POST", Path: "/k"}))
	pe := reasonOf(t, r.err)
	if pe.Reason != providers.ReasonTimeout {
		t.Fatalf("pe.Reason = %q, want %q", pe.Reason, providers.ReasonTimeout)
	}
	if !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("r.err: got error %v, want one that is %v", r.err, context.DeadlineExceeded)
	}
	if got := r.err.Error(); got != "create: timeout: POST /k to test: no response within 50ms: context deadline exceeded" {
		t.Fatalf("r.err.Error() = %q, want %q", got, "create: timeout: POST /k to test: no response within 50ms: context deadline exceeded")
	}
	if got := e.rec.next(t); got != "timeout" {
		t.Fatalf("e.rec.next(t) = %q, want %q", got, "timeout")
	}
	if got := e.hits.Load(); got != int64(1) {
		t.Fatalf("a non-idempotent call is not retried: got %v, want %v", got, int64(1))
	}
}

// A provider that never answers: the request ends at the caller's
// deadline (the rotation timeout), not after request_timeout times the
// attempts, and the error names the request and the provider and says
// which timeout ended it.
func TestProviderThatNeverAnswersEndsAtTheCallersTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		select { // holds the connection
		case <-r.Context().Done():
		case <-release:
		}
	})
	c := e.client(t, httpapi.Config{RequestTimeout: config.Duration(time.Minute), MaxRetries: 4})
	ctx, cancel := context.WithTimeoutCause(context.Background(), 300*time.Millisecond, errors.New("rotation timeout (300ms) reached"))
	defer cancel()
	start := time.Now()
	r := wait(t, goDo(ctx, c, httpapi.Request{Op: "list", Method: "GET", Path: "/k", Idempotent: true}))
	took := time.Since(start)
	if took >= 5*time.Second {
		t.Fatalf("not bounded by the caller's deadline: got %v, want less than %v", took, 5*time.Second)
	}
	if got := reasonOf(t, r.err).Reason; got != providers.ReasonTimeout {
		t.Fatalf("reasonOf(t, r.err).Reason = %q, want %q", got, providers.ReasonTimeout)
	}
	if !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("r.err: got error %v, want one that is %v", r.err, context.DeadlineExceeded)
	}
	if got := r.err.Error(); got != "list: timeout: GET /k to test: no response before the rotation timeout (300ms) reached (context deadline exceeded)" {
		t.Fatalf("r.err.Error() = %q, want %q", got, "list: timeout: GET /k to test: no response before the rotation timeout (300ms) reached (context deadline exceeded)")
	}
	if got := e.rec.next(t); got != "timeout" {
		t.Fatalf("e.rec.next(t) = %q, want %q", got, "timeout")
	}
	if got := e.hits.Load(); got != int64(1) {
		t.Fatalf("retried after the caller's deadline: got %v, want %v", got, int64(1))
	}
}

// With a request timeout shorter than the caller's deadline, each attempt
// times out on its own, naming the request, the provider and the timeout;
// the caller's deadline ends the retries during the backoff, logged as the
// give-up with its cause.
func TestRequestTimeoutsRetriedUntilTheCallersDeadline(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	c := e.client(t, httpapi.Config{RequestTimeout: config.Duration(50 * time.Millisecond), MaxRetries: 4})
	ctx, cancel := context.WithTimeoutCause(context.Background(), 500*time.Millisecond, errors.New("rotation timeout (500ms) reached"))
	defer cancel()
	r := wait(t, goDo(ctx, c, httpapi.Request{Op: "get", Method: "GET", Path: "/k/1", Idempotent: true}))
	if got := r.err.Error(); got != "get: timeout: GET /k/1 to test: no response within 50ms: context deadline exceeded" {
		t.Fatalf("r.err.Error() = %q, want %q", got, "get: timeout: GET /k/1 to test: no response within 50ms: context deadline exceeded")
	}
	last := e.logs.FilterMessage("provider request failed; giving up").All()
	if len(last) != 1 {
		t.Fatalf("len(last) = %d, want %d: %+v", len(last), 1, last)
	}
	if got := last[0].ContextMap()["why"]; !reflect.DeepEqual("rotation timeout (500ms) reached", got) {
		t.Fatalf("last[0].ContextMap()[\"why\"] = %+v, want %+v", got, "rotation timeout (500ms) reached")
	}
	if got := last[0].ContextMap()["attempt"]; got != int64(1) {
		t.Fatalf("attempt = %v (%T), want 1", got, got)
	}
}
