package httpapi_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// Each 429 lowers the client's rate by LearnStep, once per second at most
// (a refused burst counts once), never below MinLearnedRate of the
// configured rate.
func TestRateLearnedFrom429s(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTooManyRequests) })
	c := e.client(t, httpapi.Config{RateLimit: 2})
	require.Equal(t, 2.0, c.Rate())
	req := httpapi.Request{Op: "create", Method: "POST", Path: "/k"} // not retried: one 429 per call
	call := func() {
		t.Helper()
		_, err := c.Do(context.Background(), req)
		require.Equal(t, "rate_limited", string(reasonOf(t, err).Reason))
	}
	call()
	require.InDelta(t, 2*(1-httpapi.LearnStep), c.Rate(), 1e-9)

	e.clock.Advance(600 * time.Millisecond) // past the pause and the limiter's spacing, inside the second
	call()
	require.InDelta(t, 2*(1-httpapi.LearnStep), c.Rate(), 1e-9, "a second 429 within a second counts once")

	for i := 0; i < 40; i++ { // 0.98^35 < 0.5; the recorder holds 100 codes
		e.clock.Advance(1100 * time.Millisecond)
		call()
	}
	require.InDelta(t, 2*httpapi.MinLearnedRate, c.Rate(), 1e-9, "the learned rate stops at its floor")
	require.EqualValues(t, 42, e.hits.Load())
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
		require.Error(t, err)
		e.clock.Advance(1100 * time.Millisecond)
	}
	require.InDelta(t, 2*(1-httpapi.LearnStep)*(1-httpapi.LearnStep)*(1-httpapi.LearnStep), c.Rate(), 1e-9)
	refuse.Store(false)
	e.clock.Advance(time.Minute) // past any 429 pause
	get := httpapi.Request{Op: "get", Method: "GET", Path: "/k", Idempotent: true}
	_, err := c.Do(ctx, get)
	require.NoError(t, err)
	require.Less(t, c.Rate(), 1.9, "no recovery before RecoverAfter")

	low := c.Rate()
	e.clock.Advance(httpapi.RecoverAfter)
	_, err = c.Do(ctx, get)
	require.NoError(t, err)
	require.InDelta(t, low+2*httpapi.LearnStep, c.Rate(), 1e-9, "one step per quiet spell")
	e.clock.Advance(time.Second) // the limiter's spacing
	_, err = c.Do(ctx, get)
	require.NoError(t, err)
	require.InDelta(t, low+2*httpapi.LearnStep, c.Rate(), 1e-9, "not two steps in one spell")

	for i := 0; i < 5; i++ {
		e.clock.Advance(httpapi.RecoverAfter)
		_, err = c.Do(ctx, get)
		require.NoError(t, err)
	}
	require.Equal(t, 2.0, c.Rate(), "back to the configured rate and no higher")

	refuse.Store(true)
	e.clock.Advance(time.Second)
	_, err = c.Do(ctx, create)
	require.Error(t, err)
	require.InDelta(t, 2*(1-httpapi.LearnStep), c.Rate(), 1e-9, "a 429 lowers it again")
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
	require.Error(t, err)
	e.clock.Advance(2 * time.Minute) // an idle spell, shorter than RecoverAfter
	require.NoError(t, wait(t, goDo(context.Background(), c, req)).err)
	second := goDo(context.Background(), c, req)
	e.blockUntil(t, 1)
	e.clock.Advance(509 * time.Millisecond) // 1/1.96 s = 510.2ms
	e.blockUntil(t, 1)
	require.EqualValues(t, 2, e.hits.Load(), "second call within 510ms of the first")
	e.clock.Advance(2 * time.Millisecond)
	require.NoError(t, wait(t, second).err)
	require.EqualValues(t, 3, e.hits.Load())
}
