package httpapi

import (
	"context"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// pause stops every call of this client until the server's Retry-After, or
// for an exponential backoff when it gave none; it returns the pause.
func (c *Client) pause(retryAfter time.Duration) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := retryAfter
	if d <= 0 {
		d = c.backoff(c.strikes)
		c.strikes++
	}
	if until := c.clock.Now().Add(d); until.After(c.pausedUntil) {
		c.pausedUntil = until
	}
	c.log.Debug("provider asked to slow down", zap.Duration("pause", d))
	return d
}

// Learning the server's limit: the first 429 drops the burst to one, since
// a provider that counts requests in a sliding window (Emailit: 2 in any
// second) refuses the back-to-back requests that a token bucket of rate r
// and burst r lets through after an idle spell; and each 429 lowers the
// rate by LearnStep (at most once per second, so one refused burst counts
// once), down to MinLearnedRate of the configured rate. A rate_limit set
// exactly at a provider's documented limit thus settles a little under it,
// where network jitter no longer lands two requests in one window. Each
// RecoverAfter without a 429 raises the rate again by LearnStep of the
// configured rate, up to it: a provider's passing slowdown, or another
// client spending the account's limit for a while, does not slow the
// daemon for the rest of its life.
const (
	LearnStep      = 0.02
	MinLearnedRate = 0.5
	RecoverAfter   = 5 * time.Minute
)

func (c *Client) learn() {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.learnedAt.IsZero() && now.Sub(c.learnedAt) < time.Second {
		return
	}
	c.learnedAt = now
	cur := float64(c.limiter.Limit())
	next := max(cur*(1-LearnStep), c.minRate)
	c.limiter.SetBurstAt(now, 1)
	if next < cur {
		c.limiter.SetLimitAt(now, rate.Limit(next))
		c.log.Debug("lowered the request rate after a 429", zap.Float64("rate", next))
	}
}

// recover raises a learned rate after a quiet spell (see RecoverAfter).
func (c *Client) recover(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := float64(c.limiter.Limit())
	if cur >= c.maxRate || now.Sub(c.learnedAt) < RecoverAfter {
		return
	}
	c.learnedAt = now
	next := min(cur+c.maxRate*LearnStep, c.maxRate)
	c.limiter.SetLimitAt(now, rate.Limit(next))
	c.log.Debug("raised the request rate after a spell without 429", zap.Float64("rate", next))
}

// waitTurn waits out a 429 pause, then takes a token from the rate limit.
func (c *Client) waitTurn(ctx context.Context) error {
	for {
		c.mu.Lock()
		d := c.pausedUntil.Sub(c.clock.Now())
		c.mu.Unlock()
		if d <= 0 {
			break
		}
		if err := c.sleep(ctx, d); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := c.clock.Now()
	c.recover(now)
	r := c.limiter.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		if err := c.sleep(ctx, d); err != nil {
			r.CancelAt(c.clock.Now())
			return err
		}
	}
	return nil
}
