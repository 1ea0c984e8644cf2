package faults_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/rotator-dev/rotator/internal/testing/faults"
)

// TestFailNextAppliesRulesInQueueOrder: a request takes the first queued
// rule that matches it, "" matches every operation, and a used-up rule is
// gone.
func TestFailNextAppliesRulesInQueueOrder(t *testing.T) {
	f := faults.New(nil, 0)
	f.FailNext("create", 2, 503)
	f.FailNext("", 1, 500)
	f.FailNext("list", 0, 400) // nothing to fail

	take := func(op string) int {
		status, ok := f.Fail(op)
		if !ok {
			return 0
		}
		return status
	}
	require.Equal(t, 500, take("list"), "the create rule does not match; the any-operation one does")
	require.Equal(t, 0, take("list"))
	require.Equal(t, 503, take("create"))
	require.Equal(t, 503, take("create"))
	require.Equal(t, 0, take("create"))
}

// TestInterceptCountsServesAndDelays: every request is counted; a
// ServeWith handler answers in the server's stead; latency passes on the
// injected clock, and a client that gives up meanwhile ends the request.
func TestInterceptCountsServesAndDelays(t *testing.T) {
	clk := clockwork.NewFakeClock()
	f := faults.New(clk, 0)
	w := httptest.NewRecorder()
	require.False(t, f.Intercept(w, httptest.NewRequest("GET", "/", nil), "list"))

	f.ServeWith("list", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	require.True(t, f.Intercept(w, httptest.NewRequest("GET", "/", nil), "list"))
	require.Equal(t, http.StatusTeapot, w.Code)
	f.ServeWith("list", nil)

	f.SetLatency(time.Second)
	done := make(chan bool)
	go func() { done <- f.Intercept(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), "get") }()
	require.NoError(t, clk.BlockUntilContext(t.Context(), 1))
	clk.Advance(time.Second)
	require.False(t, <-done, "after the latency the server answers")

	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		done <- f.Intercept(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(ctx), "get")
	}()
	require.NoError(t, clk.BlockUntilContext(t.Context(), 1))
	cancel()
	require.True(t, <-done, "a client that gave up ends the request")

	require.Equal(t, map[string]int{"list": 2, "get": 2}, f.Requests())
}

// TestDropCreateClosesTheConnection: a queued drop closes the connection
// without a response, once.
func TestDropCreateClosesTheConnection(t *testing.T) {
	f := faults.New(nil, 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if f.DropCreate(w) {
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	f.DropNextCreate()
	_, err := srv.Client().Post(srv.URL, "application/json", nil)
	require.Error(t, err)
	resp, err := srv.Client().Post(srv.URL, "application/json", nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
}
