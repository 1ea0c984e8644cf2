// Package backoff is rotator's one retry delay, used wherever something is
// tried again: failed rotations, revocations and keep-alives (the engine),
// provider requests (httpapi), and Vault requests.
package backoff

import "time"

// Policy is capped exponential backoff with jitter.
type Policy struct {
	// Base is the delay after the first failure; each further failure
	// doubles it, up to Max.
	Base, Max time.Duration
	// Jitter is the fraction of each delay drawn at random (0.2: the delay
	// is between 80% and 100% of the capped value), so that retries of many
	// keys or clients spread out.
	Jitter float64
}

// Capped is the delay after n consecutive failures (n ≥ 1), without
// jitter: Base·2^(n-1), at most Max.
func (p Policy) Capped(n int) time.Duration {
	d := p.Base
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Delay is Capped(n) less a random part of up to Jitter of it; rnd is a
// random number in [0, 1).
func (p Policy) Delay(n int, rnd float64) time.Duration {
	d := p.Capped(n)
	return d - time.Duration(float64(d)*p.Jitter*rnd)
}
