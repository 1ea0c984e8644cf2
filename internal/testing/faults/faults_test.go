package faults_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

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
	if got := take("list"); got != 500 {
		t.Fatalf("the create rule does not match; the any-operation one does: got %v, want %v", got, 500)
	}
	if got := take("list"); got != 0 {
		t.Fatalf("take(\"list\") = %v, want %v", got, 0)
	}
	if got := take("create"); got != 503 {
		t.Fatalf("take(\"create\") = %v, want %v", got, 503)
	}
	if got := take("create"); got != 503 {
		t.Fatalf("take(\"create\") = %v, want %v", got, 503)
	}
	if got := take("create"); got != 0 {
		t.Fatalf("take(\"create\") = %v, want %v", got, 0)
	}
}

// TestInterceptCountsServesAndDelays: every request is counted; a
// ServeWith handler answers in the server's stead; latency passes on the
// injected clock, and a client that gives up meanwhile ends the request.
func TestInterceptCountsServesAndDelays(t *testing.T) {
	clk := clockwork.NewFakeClock()
	f := faults.New(clk, 0)
	w := httptest.NewRecorder()
	if f.Intercept(w, httptest.NewRequest("GET", "/", nil), "list") {
		t.Fatalf("f.Intercept(w, httptest.NewRequest(\"GET\", \"/\", nil), \"list\"): got true, want false")
	}

	f.ServeWith("list", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	if !f.Intercept(w, httptest.NewRequest("GET", "/", nil), "list") {
		t.Fatalf("f.Intercept(w, httptest.NewRequest(\"GET\", \"/\", nil), \"list\"): got false, want true")
	}
	if w.Code != http.StatusTeapot {
		t.Fatalf("w.Code = %v, want %v", w.Code, http.StatusTeapot)
	}
	f.ServeWith("list", nil)

	f.SetLatency(time.Second)
	done := make(chan bool)
	go func() { done <- f.Intercept(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), "get") }()
	if err := clk.BlockUntilContext(t.Context(), 1); err != nil {
		t.Fatalf("clk.BlockUntilContext(t.Context(), 1): %v", err)
	}
	clk.Advance(time.Second)
	if <-done {
		t.Fatalf("after the latency the server answers: got true, want false")
	}

	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		done <- f.Intercept(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(ctx), "get")
	}()
	if err := clk.BlockUntilContext(t.Context(), 1); err != nil {
		t.Fatalf("clk.BlockUntilContext(t.Context(), 1): %v", err)
	}
	cancel()
	if !(<-done) {
		t.Fatalf("a client that gave up ends the request: got false, want true")
	}

	if got, want := f.Requests(), map[string]int{"list": 2, "get": 2}; !reflect.DeepEqual(want, got) {
		t.Fatalf("f.Requests() = %+v, want %+v", got, want)
	}
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
	if err == nil {
		t.Fatalf("srv.Client().Post: got no error, want one")
	}
	resp, err := srv.Client().Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatalf("srv.Client().Post: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("resp.StatusCode = %v, want %v", resp.StatusCode, http.StatusCreated)
	}
}
