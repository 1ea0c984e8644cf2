package httpapi

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/providers"
)

// retryWait says whether a failed attempt (attempt counts from 0) is tried
// again, and after how long: the backoff, or for a 429 the pause that
// waitTurn waits out. Only idempotent requests are retried after a 5xx or
// a failure without a response; a 429 also when RetryRateLimited, and
// only while its pause is at most maxRetryWait.
func (c *Client) retryWait(ctx context.Context, req Request, perr *providers.Error, attempt int) (time.Duration, bool) {
	switch {
	case perr.Reason == providers.ReasonRateLimited:
		c.learn()
		wait := c.pause(perr.RetryAfter)
		return wait, (req.Idempotent || req.RetryRateLimited) && wait <= c.maxRetryWait
	case !req.Idempotent:
		return 0, false
	case perr.Reason == providers.ReasonServer, perr.Reason == providers.ReasonUnreachable,
		perr.Reason == providers.ReasonTimeout && perr.Status == 0 && ctx.Err() == nil:
		return c.backoff(attempt), true
	}
	return 0, false
}

// attemptFields are the fields of a retry's log line: which request, and
// attempt n of max_attempts (counted from 1).
func (c *Client) attemptFields(req Request, u *url.URL, attempt int, perr *providers.Error) []zap.Field {
	return []zap.Field{zap.String("op", req.Op), zap.String("method", req.Method), zap.String("path", u.Path),
		zap.Int("attempt", attempt+1), zap.Int("max_attempts", c.maxRetries+1),
		zap.String("reason", string(perr.Reason)), zap.Error(perr)}
}

// logRetry logs, at info, a failed attempt that is tried again.
func (c *Client) logRetry(req Request, u *url.URL, attempt int, wait time.Duration, perr *providers.Error) {
	c.log.Info("provider request failed; retrying", append(c.attemptFields(req, u, attempt, perr), zap.Duration("retry_in", wait))...)
}

// giveUp ends a request that was retried: its error says how many
// attempts were made, and the caller logs that failure, once (issue 16:
// each failure logged once). The give-up itself, with why no other
// attempt follows, is a debug line.
func (c *Client) giveUp(req Request, u *url.URL, attempt int, perr *providers.Error, why string) *providers.Error {
	c.log.Debug("provider request failed; giving up", append(c.attemptFields(req, u, attempt, perr), zap.String("why", why))...)
	out := *perr
	out.Attempts = attempt + 1
	return &out
}

// ended is the error of a request whose caller's context ended, naming
// the request and the provider and keeping the context's cause ("rotation
// timeout (2m0s) reached").
func (c *Client) ended(ctx context.Context, req Request, u *url.URL) error {
	where := c.where(req, u)
	cause := context.Cause(ctx)
	switch {
	case cause == ctx.Err():
		return fmt.Errorf("%s: %w", where, cause)
	case ctx.Err() == context.DeadlineExceeded:
		return fmt.Errorf("%s: no response before the %w (%w)", where, cause, ctx.Err())
	}
	return fmt.Errorf("%s: %w (%w)", where, cause, ctx.Err())
}

// where names a request and its provider in an error: "POST /api/v1/keys
// to smtpd".
func (c *Client) where(req Request, u *url.URL) string {
	if c.name == "" {
		return req.Method + " " + u.Path
	}
	return req.Method + " " + u.Path + " to " + c.name
}
