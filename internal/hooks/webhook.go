package hooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/rotate"
)

// Webhook headers. The signature covers the raw body, which holds the
// delivery's id and sent_at; X-Rotator-Timestamp repeats sent_at (unix
// seconds) so that a receiver can refuse a stale request before parsing.
const (
	HeaderSignature = "X-Rotator-Signature"
	HeaderTimestamp = "X-Rotator-Timestamp"
	HeaderEvent     = "X-Rotator-Event"
	HeaderDelivery  = "X-Rotator-Delivery"
)

// Sign is the X-Rotator-Signature of body under key: "sha256=" and the
// hex HMAC-SHA256.
func Sign(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a webhook request's signature against body and key
// (constant time): the receiver's half of Sign.
func Verify(key, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(key, body)), []byte(signature))
}

func defaultClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: true},
		// A redirect would carry the signed event elsewhere: it is a
		// failure, not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// webhookRun posts the event, signed, retrying a network error, a 408,
// 429 or 5xx with the backoff policy, at most Attempts times; each attempt
// is bounded by the hook's timeout.
func (r *Runner) webhookRun(hc config.Hook) func(context.Context, rotate.HookEvent) error {
	return func(ctx context.Context, ev rotate.HookEvent) error {
		e := newEvent(ev)
		var err error
		for attempt := 1; ; attempt++ {
			var retry bool
			retry, err = r.post(ctx, hc, e)
			if err == nil || !retry || attempt >= r.o.Attempts {
				break
			}
			wait := r.o.Retry.Delay(attempt, rand.Float64())
			r.log.Warn("webhook attempt failed; retrying", zap.String("hook", hc.Name), zap.String("event", ev.Event),
				zap.String("key", ev.Key), zap.Int("attempt", attempt), zap.Duration("retry_in", wait), zap.Error(err))
			select {
			case <-r.o.Clock.After(wait):
			case <-ctx.Done():
				return fmt.Errorf("%w (stopped at shutdown)", err)
			}
		}
		if err != nil {
			return fmt.Errorf("webhook: %w", err)
		}
		return nil
	}
}

// post is one attempt. Its error never holds the URL, whose path or query
// may carry a token.
func (r *Runner) post(ctx context.Context, hc config.Hook, e Event) (retry bool, err error) {
	ctx, cancel := withTimeout(ctx, r.o.Clock, hc.Timeout)
	defer cancel()
	now := r.o.Clock.Now()
	body := e.body(now)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hc.URL, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("the URL does not make a request")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderSignature, Sign([]byte(hc.HMACKey.Reveal()), body))
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderEvent, e.Event)
	req.Header.Set(HeaderDelivery, e.ID)
	if r.o.UserAgent != "" {
		req.Header.Set("User-Agent", r.o.UserAgent)
	}
	resp, err := r.o.Client.Do(req)
	if err != nil {
		if timedOut(ctx) || errors.Is(err, context.DeadlineExceeded) {
			return true, fmt.Errorf("no answer within %s", hc.Timeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return true, fmt.Errorf("the receiver answered %s", resp.Status)
	default:
		return false, fmt.Errorf("the receiver answered %s (not retried)", resp.Status)
	}
}
