package httpapi_test

import (
	"context"
	"math"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// Each 429 lowers the client's rate by LearnStep, once per second at most
// (a refused burst counts once), never below MinLearnedRate of the
// configured rate.
func TestRateLearnedFrom429s(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTooManyRequests) })
	c := e.client(t, httpapi.Config{RateLimit: 2})
	if got := c.Rate(); got != 2.0 {
		t.Fatalf("c.Rate() = %v, want %v", got, 2.0)
	}
	req := httpapi.Request{Op: "create", Method: "POST", Path: "/k"} // not retried: one 429 per call
	call := func() {
		t.Helper()
		_, err := c.Do(context.Background(), req)
		if got := string(reasonOf(t, err).Reason); got != "rate_limited" {
			t.Fatalf("string(reasonOf(t, err).Reason) = %q, want %q", got, "rate_limited")
		}
	}
	call()
	if got := c.Rate(); !(math.Abs(2*(1-httpapi.LearnStep)-got) <= 1e-9) {
		t.Fatalf("c.Rate() = %v, want %v ± %v", got, 2*(1-httpapi.LearnStep), 1e-9)
	}

	e.clock.Advance(600 * time.Millisecond) // past the pause and the limiter's spacing, inside the second
	call()
	if got := c.Rate(); !(math.Abs(2*(1-httpapi.LearnStep)-got) <= 1e-9) {
		t.Fatalf("a second 429 within a second counts once: got %v, want %v ± %v", got, 2*(1-httpapi.LearnStep), 1e-9)
	}

	for i := 0; i < 40; i++ { // 0.98^35 < 0.5; the recorder holds 100 codes
		e.clock.Advance(1100 * time.Millisecond)
		call()
	}
	if got := c.Rate(); !(math.Abs(2*httpapi.MinLearnedRate-got) <= 1e-9) {
		t.Fatalf("the learned rate stops at its floor: got %v, want %v ± %v", got, 2*httpapi.MinLearnedRate, 1e-9)
	}
	if got := e.hits.Load(); got != int64(42) {
		t.Fatalf("e.hits.Load() = %v, want %v", got, int64(42))
	}
}

// A learned rate climbs back by LearnStep of the configured rate for each
// RecoverAfter without a 429, up to the configured rate and no further; a
// 429 meanwhile lowers it again.
func TestLearnedRateRecovers(t *testing.T) {
	var refuse atomic.Bool
	refuse.Store(true)
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	c := e.client(t, httpapi.Config{RateLimit: 2})
	ctx := context.Background()
	create := httpapi.Request{Op: "create", Method: "POST", Path: "/k"}
	for i := 0; i < 3; i++ {
		_, err := c.Do(ctx, create)
		if err == nil {
			t.Fatalf("c.Do: got no error, want one")
		}
		e.clock.Advance(1100 * time.Millisecond)
	}
	if got := c.Rate(); !(math.Abs(2*(1-httpapi.LearnStep)*(1-httpapi.LearnStep)*(1-httpapi.LearnStep)-got) <= 1e-9) {
		t.Fatalf("c.Rate() = %v, want %v ± %v", got, 2*(1-httpapi.LearnStep)*(1-httpapi.LearnStep)*(1-httpapi.LearnStep), 1e-9)
	}
	refuse.Store(false)
	e.clock.Advance(time.Minute) // past any 429 pause
	get := httpapi.Request{Op: "get", Method: "GET", Path: "/k", Idempotent: true}
	_, err := c.Do(ctx, get)
	if err != nil {
		t.Fatalf("c.Do: %v", err)
	}
	if got := c.Rate(); !(got < 1.9) {
		t.Fatalf("no recovery before RecoverAfter: got %v, want less than %v", got, 1.9)
	}

	low := c.Rate()
	e.clock.Advance(httpapi.RecoverAfter)
	_, err = c.Do(ctx, get)
	if err != nil {
		t.Fatalf("c.Do: %v", err)
	}
	if got := c.Rate(); !(math.Abs(low+2*httpapi.LearnStep-got) <= 1e-9) {
		t.Fatalf("one step per quiet spell: got %v, want %v ± %v", got, low+2*httpapi.LearnStep, 1e-9)
	}
	e.clock.Advance(time.Second) // the limiter's spacing
	_, err = c.Do(ctx, get)
	if err != nil {
		t.Fatalf("c.Do: %v", err)
	}
	if got := c.Rate(); !(math.Abs(low+2*httpapi.LearnStep-got) <= 1e-9) {
		t.Fatalf("not two steps in one spell: got %v, want %v ± %v", got, low+2*httpapi.LearnStep, 1e-9)
	}

	for i := 0; i < 5; i++ {
		e.clock.Advance(httpapi.RecoverAfter)
		_, err = c.Do(ctx, get)
		if err != nil {
			t.Fatalf("c.Do: %v", err)
		}
	}
	if got := c.Rate(); got != 2.0 {
		t.Fatalf("back to the configured rate and no higher: got %v, want %v", got, 2.0)
	}

	refuse.Store(true)
	e.clock.Advance(time.Second)
	_, err = c.Do(ctx, create)
	if err == nil {
		t.Fatalf("c.Do: got no error, want one")
	}
	if got := c.Rate(); !(math.Abs(2*(1-httpapi.LearnStep)-got) <= 1e-9) {
		t.Fatalf("a 429 lowers it again: got %v, want %v ± %v", got, 2*(1-httpapi.LearnStep), 1e-9)
	}
}

// After a 429 the burst is one: a provider that counts requests in a
// sliding window (2 in any second) refuses the third of a burst of 2 and a
// token half a second later, so after an idle spell two calls at 2/s go
// half a second apart, not back to back.
func TestBurstOfOneAfterA429(t *testing.T) {
	var n atomic.Int64
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	c := e.client(t, httpapi.Config{RateLimit: 2})
	req := httpapi.Request{Op: "get", Method: "GET", Path: "/k", Idempotent: true}
	_, err := c.Do(context.Background(), httpapi.Request{Op: "create", Method: "POST", Path: "/k"})
	if err == nil {
		t.Fatalf("c.Do: got no error, want one")
	}
	e.clock.Advance(2 * time.Minute) // an idle spell, shorter than RecoverAfter
	if err2 := wait(t, goDo(context.Background(), c, req)).err; err2 != nil {
		t.Fatalf("wait(t, goDo(context.Background(), c, req)).err: %v", err2)
	}
	second := goDo(context.Background(), c, req)
	e.blockUntil(t, 1)
	e.clock.Advance(509 * time.Millisecond) // 1/1.96 s = 510.2ms
	e.blockUntil(t, 1)
	if got := e.hits.Load(); got != int64(2) {
		t.Fatalf("second call within 510ms of the first: got %v, want %v", got, int64(2))
	}
	e.clock.Advance(2 * time.Millisecond)
	if err2 := wait(t, second).err; err2 != nil {
		t.Fatalf("wait(t, second).err: %v", err2)
	}
	if got := e.hits.Load(); got != int64(3) {
		t.Fatalf("e.hits.Load() = %v, want %v", got, int64(3))
	}
}
