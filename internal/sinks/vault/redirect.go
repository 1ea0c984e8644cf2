package vault

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/hashicorp/vault/api"
)

// The sink follows no redirect: vault/api follows one 301/302/307 itself,
// re-sending X-Vault-Token and the request body (the secret) to wherever
// the answer points, whatever the http.Client's CheckRedirect says. The
// client is built with DisableRedirects, and its transport turns any 3xx
// answer into a redirectError (which api would otherwise take for an empty
// success), which is not retried.

// redirectError is a 3xx answer from the Vault address.
type redirectError struct {
	status string // "307 Temporary Redirect"
	to     string // the Location's origin, "" when there is none
}

func (e *redirectError) Error() string {
	msg := "vault answered " + e.status
	if e.to != "" {
		msg += " to " + e.to
	}
	return msg + ": rotator follows no redirects, which would carry the token to another server; set address to the active node, or to a load balancer that forwards requests"
}

// refuseRedirects is an http.RoundTripper that fails every 3xx answer.
type refuseRedirects struct{ next http.RoundTripper }

func (rt refuseRedirects) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.next.RoundTrip(req)
	if err != nil || resp.StatusCode < 300 || resp.StatusCode > 399 {
		return resp, err
	}
	e := &redirectError{status: resp.Status}
	if loc, lerr := resp.Location(); lerr == nil {
		e.to = loc.Scheme + "://" + loc.Host
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
	return nil, e
}

// checkRetry is api's retry policy, except that a redirect is final.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	var re *redirectError
	if errors.As(err, &re) {
		return false, err
	}
	return api.DefaultRetryPolicy(ctx, resp, err)
}
