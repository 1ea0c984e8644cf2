// Package httpapi is the HTTP layer shared by every provider: base URL
// resolution, timeouts, User-Agent, a per-provider rate limit shared by all
// keys of that provider, retries with capped exponential backoff and jitter
// for idempotent calls only, 429 handling with Retry-After, response bodies
// read with a size bound, request metrics, and errors that never carry a
// credential.
//
// STUB: the API below is fixed; the implementation is in progress.
package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
)

// Config is the part of every provider's configuration that this layer
// reads. Provider Config types embed it with `yaml:",inline"`.
type Config struct {
	// BaseURL is the API's root, e.g. "https://api.smtpd.dev".
	BaseURL string `yaml:"base_url"`
	// RateLimit is the most requests per second this provider's keys may
	// make together; 0 means the provider's default.
	RateLimit float64 `yaml:"rate_limit"`
	// RequestTimeout bounds one HTTP request; 0 means 30s.
	RequestTimeout config.Duration `yaml:"request_timeout"`
	// MaxRetries bounds retries of an idempotent request; 0 means 4.
	MaxRetries int `yaml:"max_retries"`
}

// Request is one call.
type Request struct {
	// Op names the operation for metrics, logs and errors ("create").
	Op string
	// Method is the HTTP method.
	Method string
	// Path is resolved against BaseURL; it may also be an absolute URL (a
	// next_page_url), which must then share BaseURL's scheme and host.
	Path  string
	Query url.Values
	// Header is added to the request (Authorization goes here; it is never
	// logged).
	Header http.Header
	// Body, when not nil, is sent as JSON.
	Body any
	// Idempotent allows retries on 429, 5xx and network errors. Create
	// calls are not idempotent and are never retried here.
	Idempotent bool
}

// Response is a response of any status.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// ErrorDecoder extracts the provider's error code, message and retry hint
// from an error body. It must not return credential material.
type ErrorDecoder func(status int, body []byte) (code, message string, retryAfter time.Duration)

// Client makes requests for one configured provider.
type Client struct{}

// New builds a client. defaultRate is used when cfg.RateLimit is 0.
func New(cfg Config, defaultRate float64, deps providers.Deps, decode ErrorDecoder) (*Client, error) {
	panic("httpapi: not implemented yet")
}

// Do sends the request, honouring the rate limit and, for idempotent
// requests, retrying. A 2xx returns the response; any other status returns
// the response and a *providers.Error classified from the status (401/403
// auth, 404 not_found, 409 conflict, 429 rate_limited, 5xx server, other
// client); a request that got no response returns a *providers.Error with
// ReasonTimeout.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	panic("httpapi: not implemented yet")
}
