package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
		require.Equal(t, "503", e.rec.next(t))
		e.blockUntil(t, 1)
		e.clock.Advance(time.Second)
	}
	require.Equal(t, "503", e.rec.next(t))
	require.Equal(t, providers.ReasonServer, reasonOf(t, wait(t, ch).err).Reason)

	retries := e.logs.FilterMessage("provider request failed; retrying").All()
	require.Len(t, retries, 2)
	for i, l := range retries {
		f := l.ContextMap()
		require.Equal(t, zapcore.InfoLevel, l.Level)
		require.Equal(t, map[string]any{"op": "list", "method": "GET", "path": "/k", "attempt": int64(i + 1), "max_attempts": int64(3),
			"reason": "server", "error": "list: server (HTTP 503)", "retry_in": f["retry_in"]}, f)
		require.Positive(t, f["retry_in"].(time.Duration))
	}
	last := e.logs.FilterMessage("provider request failed; giving up").All()
	require.Len(t, last, 1)
	require.Equal(t, zapcore.WarnLevel, last[0].Level)
	require.Equal(t, map[string]any{"op": "list", "method": "GET", "path": "/k", "attempt": int64(3), "max_attempts": int64(3),
		"reason": "server", "error": "list: server (HTTP 503)", "why": "no attempts left"}, last[0].ContextMap())
	require.Zero(t, e.logs.FilterMessage("retrying request").Len())
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
	require.Equal(t, providers.ReasonTimeout, pe.Reason)
	require.ErrorIs(t, r.err, context.DeadlineExceeded)
	require.Equal(t, "create: timeout: POST /k to test: no response within 50ms: context deadline exceeded", r.err.Error())
	require.Equal(t, "timeout", e.rec.next(t))
	require.EqualValues(t, 1, e.hits.Load(), "a non-idempotent call is not retried")
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
	require.Less(t, took, 5*time.Second, "not bounded by the caller's deadline")
	require.Equal(t, providers.ReasonTimeout, reasonOf(t, r.err).Reason)
	require.ErrorIs(t, r.err, context.DeadlineExceeded)
	require.Equal(t, "list: timeout: GET /k to test: no response before the rotation timeout (300ms) reached (context deadline exceeded)", r.err.Error())
	require.Equal(t, "timeout", e.rec.next(t))
	require.EqualValues(t, 1, e.hits.Load(), "retried after the caller's deadline")
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
	require.Equal(t, "get: timeout: GET /k/1 to test: no response within 50ms: context deadline exceeded", r.err.Error())
	last := e.logs.FilterMessage("provider request failed; giving up").All()
	require.Len(t, last, 1)
	require.Equal(t, "rotation timeout (500ms) reached", last[0].ContextMap()["why"])
	require.EqualValues(t, 1, last[0].ContextMap()["attempt"])
}
