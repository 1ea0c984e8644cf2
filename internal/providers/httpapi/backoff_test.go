package httpapi

import (
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/backoff"
)

// TestRetryDelaysDoubleUpToTheCapWithHalfJitter pins the provider retry
// delays (now internal/backoff's policy): before retry n+1 the wait is in
// [d/2, d] with d = base·2^n capped at max.
func TestRetryDelaysDoubleUpToTheCapWithHalfJitter(t *testing.T) {
	c := &Client{retry: backoff.Policy{Base: DefaultBackoffBase, Max: DefaultBackoffMax, Jitter: 0.5}}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second,
		8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for attempt, d := range want {
		lo, hi := d, time.Duration(0)
		for range 2000 {
			got := c.backoff(attempt)
			lo, hi = min(lo, got), max(hi, got)
		}
		if lo < d/2 || hi > d {
			t.Errorf("attempt %d: delays in [%s, %s], want within [%s, %s]", attempt, lo, hi, d/2, d)
		}
		if hi-lo < d/4 {
			t.Errorf("attempt %d: delays in [%s, %s]: no jitter", attempt, lo, hi)
		}
	}
}
