// Package httpapi is the HTTP layer shared by every provider: base URL
// resolution, timeouts, User-Agent, a per-provider rate limit shared by all
// keys of that provider, retries with capped exponential backoff and jitter
// for idempotent calls only, 429 handling with Retry-After, response bodies
// read with a size bound, request metrics, and errors that never carry a
// credential.
//
// Every wait (rate limit, backoff, Retry-After pause) runs on the injected
// clock, so tests drive it with a fake clock; only the per-request timeout
// is on real time, since it bounds the real network.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/rotator-dev/rotator/internal/backoff"
	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
)

// Defaults applied when the Config leaves a field at zero.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultMaxRetries     = 4
	DefaultMaxBody        = 1 << 20
	DefaultBackoffBase    = 500 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
	// DefaultMaxRetryWait is the longest Retry-After that Do waits out
	// itself; a longer one is returned to the caller as a rate_limited
	// error carrying RetryAfter.
	DefaultMaxRetryWait = 2 * time.Minute
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
	// AllowInsecureHTTP allows an http:// BaseURL to a host that is not
	// loopback (the credentials then cross the network in cleartext).
	AllowInsecureHTTP bool `yaml:"allow_insecure_http"`
	// ListMaxKeys bounds the keys one List call returns (keys carrying
	// the listed name prefix); 0 means DefaultListMaxKeys.
	ListMaxKeys int `yaml:"list_max_keys"`
}

// Validate checks the fields without any network call. The returned error
// names the YAML field ("base_url: ..."); providers wrap it with
// sec.Field or sec.Errorf.
func (c Config) Validate() (field string, err error) {
	if c.BaseURL != "" {
		if _, err := parseBase(c.BaseURL); err != nil {
			return "base_url", err
		}
		if err := config.CheckURL(c.BaseURL, c.AllowInsecureHTTP); err != nil {
			return "base_url", err
		}
	}
	if c.RateLimit < 0 {
		return "rate_limit", fmt.Errorf("must not be negative, got %v", c.RateLimit)
	}
	if c.MaxRetries < 0 {
		return "max_retries", fmt.Errorf("must not be negative, got %d", c.MaxRetries)
	}
	if c.ListMaxKeys < 0 {
		return "list_max_keys", fmt.Errorf("must not be negative, got %d", c.ListMaxKeys)
	}
	return "", nil
}

// DecodeSection is the start of every provider's ParseConfig: it decodes
// sec strictly (its `type` aside) into cfg, the provider's Config, which
// embeds c with `yaml:",inline"`, then defaults c's BaseURL to
// defaultBaseURL and validates c (Validate). An error is a
// *config.FieldError naming the field.
func DecodeSection(sec config.Section, cfg any, c *Config, defaultBaseURL string) error {
	if err := sec.Decode(cfg, "type"); err != nil {
		return err
	}
	if c.BaseURL == "" {
		c.BaseURL = defaultBaseURL
	}
	if field, err := c.Validate(); err != nil {
		return sec.Field(field, err)
	}
	return nil
}

func parseBase(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q must be an http or https URL", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q has no host", s)
	}
	if u.User != nil {
		return nil, errors.New("must not carry credentials")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q must not have a query or fragment", s)
	}
	return u, nil
}

// Request is one call.
type Request struct {
	// Op names the operation for metrics, logs and errors ("create").
	Op string
	// Method is the HTTP method.
	Method string
	// Path is resolved against BaseURL; it may also be an absolute URL (a
	// next_page_url), which must then share BaseURL's scheme and host. It
	// may carry a query string, to which Query is added.
	Path  string
	Query url.Values
	// Header is added to the request (Authorization goes here; it is never
	// logged, and every string it carries is removed from error messages).
	Header http.Header
	// Body, when not nil, is sent as JSON.
	Body any
	// Idempotent allows retries on 429, 5xx and network errors. Create
	// calls are not idempotent and are never retried here.
	Idempotent bool
	// RetryRateLimited allows retrying a 429 for a non-idempotent request:
	// a 429 is a refusal before the request was acted on, so sending it
	// again cannot duplicate its effect. 5xx and network errors are still
	// never retried for such a request.
	RetryRateLimited bool
	// MaxBody overrides the client's response size bound for this request
	// (an unpaginated list that grows with the account); 0 keeps it.
	MaxBody int64
	// Stream, when set, reads a 2xx body while it arrives instead of its
	// being kept in Response.Body (a list too large to hold twice); MaxBody
	// still bounds it. It is called once per attempt and must start afresh
	// each time. Its error (which must not quote the body) fails the
	// request as ReasonClient; a body cut short fails it as ReasonTimeout.
	Stream func(io.Reader) error
	// Secrets are further strings (a refresh token sent in the body) that
	// must never appear in an error message.
	Secrets []string
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

// Option tunes a Client beyond its Config (tests, special providers).
type Option func(*Client)

// WithMaxBody bounds response bodies to n bytes (default 1 MiB).
func WithMaxBody(n int64) Option { return func(c *Client) { c.maxBody = n } }

// WithBackoff sets the first retry delay and the cap of the exponential
// backoff (defaults 500ms and 30s).
func WithBackoff(base, max time.Duration) Option {
	return func(c *Client) { c.retry.Base, c.retry.Max = base, max }
}

// WithMaxRetryWait sets the longest Retry-After that Do waits out itself
// (default 2m).
func WithMaxRetryWait(d time.Duration) Option { return func(c *Client) { c.maxRetryWait = d } }

// Client makes requests for one configured provider. It is safe for
// concurrent use; all its calls share one rate limit and one 429 pause.
type Client struct {
	name         string
	base         *url.URL
	hc           *http.Client
	timeout      time.Duration
	maxRetries   int
	maxBody      int64
	retry        backoff.Policy // jitter 1/2: each delay is in [d/2, d]
	maxRetryWait time.Duration
	userAgent    string
	clock        clockwork.Clock
	log          *zap.Logger
	obs          providers.RequestObserver
	decode       ErrorDecoder

	limiter *rate.Limiter
	mu      sync.Mutex
	// pausedUntil is when the whole client may send again after a 429.
	pausedUntil time.Time
	// strikes counts consecutive 429s without Retry-After, for backoff.
	strikes int
	// minRate and maxRate bound the learned rate (maxRate is the
	// configured one); learnedAt is when a 429 last lowered it or a quiet
	// spell last raised it (see learn, recover).
	minRate, maxRate float64
	learnedAt        time.Time
}

// New builds a client. defaultRate is used when cfg.RateLimit is 0.
func New(cfg Config, defaultRate float64, deps providers.Deps, decode ErrorDecoder, opts ...Option) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("httpapi: base_url is empty")
	}
	if field, err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("httpapi: %s: %w", field, err)
	}
	base, _ := parseBase(cfg.BaseURL)
	r := cfg.RateLimit
	if r == 0 {
		r = defaultRate
	}
	if r <= 0 {
		return nil, errors.New("httpapi: rate limit must be positive")
	}
	// The burst drops to one at the first 429 (see learn).
	burst := int(r)
	if burst < 1 {
		burst = 1
	}
	c := &Client{
		name:         deps.Name,
		base:         base,
		hc:           deps.HTTPClient,
		timeout:      time.Duration(cfg.RequestTimeout),
		maxRetries:   cfg.MaxRetries,
		maxBody:      DefaultMaxBody,
		retry:        backoff.Policy{Base: DefaultBackoffBase, Max: DefaultBackoffMax, Jitter: 0.5},
		maxRetryWait: DefaultMaxRetryWait,
		userAgent:    deps.UserAgent,
		clock:        deps.Clock,
		log:          deps.Logger,
		obs:          deps.Observer,
		decode:       decode,
		limiter:      rate.NewLimiter(rate.Limit(r), burst),
		minRate:      r * MinLearnedRate,
		maxRate:      r,
	}
	if c.timeout == 0 {
		c.timeout = DefaultRequestTimeout
	}
	if c.maxRetries == 0 {
		c.maxRetries = DefaultMaxRetries
	}
	if c.clock == nil {
		c.clock = clockwork.NewRealClock()
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient()
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

func defaultHTTPClient() *http.Client {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
	// Redirects would re-send the Authorization header elsewhere; an API
	// that redirects is misconfigured, so the 3xx is returned as is.
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Do sends the request, honouring the rate limit and, for idempotent
// requests, retrying. A 2xx returns the response; any other status returns
// the response and a *providers.Error classified from the status (401/403
// auth, 404 not_found, 409 conflict, 429 rate_limited, 5xx server, other
// client); a request that got no response returns a *providers.Error with
// ReasonTimeout, or ReasonUnreachable when the connection was refused.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	u, err := c.resolve(req)
	if err != nil {
		return nil, &providers.Error{Op: req.Op, Reason: providers.ReasonClient, Err: err}
	}
	var body []byte
	if req.Body != nil {
		if body, err = json.Marshal(req.Body); err != nil {
			return nil, &providers.Error{Op: req.Op, Reason: providers.ReasonClient, Err: fmt.Errorf("encode body: %w", err)}
		}
	}
	secrets := secretsOf(req)
	for attempt := 0; ; attempt++ {
		if err := c.waitTurn(ctx); err != nil {
			return nil, &providers.Error{Op: req.Op, Reason: providers.ReasonTimeout, Err: c.ended(ctx, req, u)}
		}
		resp, perr := c.attempt(ctx, req, u, body, attempt, secrets)
		if perr == nil {
			c.mu.Lock()
			c.strikes = 0
			c.mu.Unlock()
			return resp, nil
		}
		wait, retry := c.retryWait(ctx, req, perr, attempt)
		if !retry {
			return resp, perr
		}
		if attempt >= c.maxRetries {
			return resp, c.giveUp(req, u, attempt, perr, "no attempts left")
		}
		c.logRetry(req, u, attempt, wait, perr)
		if wait > 0 && perr.Reason != providers.ReasonRateLimited { // waitTurn waits out a 429's pause
			if err := c.sleep(ctx, wait); err != nil {
				return resp, c.giveUp(req, u, attempt, perr, context.Cause(ctx).Error())
			}
		}
	}
}

// ParseRetryAfter reads a Retry-After header: delay seconds or an HTTP
// date (relative to now).
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || secs > 86400*7 || secs != secs {
			return 0, false
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	t := c.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.Chan():
		return nil
	}
}

// backoff is the delay before retry attempt+1 (attempt counts from 0):
// the one retry policy of the product, with half of each delay jittered.
func (c *Client) backoff(attempt int) time.Duration { return c.retry.Delay(attempt+1, rand.Float64()) }

// resolve turns req.Path (+Query) into a URL on the base URL's host.
func (c *Client) resolve(req Request) (*url.URL, error) {
	p, err := url.Parse(req.Path)
	if err != nil {
		return nil, errors.New("invalid request path")
	}
	var u *url.URL
	if p.IsAbs() || p.Host != "" {
		if !strings.EqualFold(p.Scheme, c.base.Scheme) || !strings.EqualFold(p.Host, c.base.Host) {
			return nil, fmt.Errorf("refusing URL on another host (%s://%s), expected %s://%s", p.Scheme, p.Host, c.base.Scheme, c.base.Host)
		}
		if p.User != nil {
			return nil, errors.New("refusing URL with credentials")
		}
		u = p
	} else {
		u = &url.URL{Scheme: c.base.Scheme, Host: c.base.Host,
			Path:     strings.TrimSuffix(c.base.Path, "/") + "/" + strings.TrimPrefix(p.Path, "/"),
			RawQuery: p.RawQuery}
		if p.RawPath != "" {
			u.RawPath = strings.TrimSuffix(c.base.EscapedPath(), "/") + "/" + strings.TrimPrefix(p.RawPath, "/")
		}
	}
	u.Fragment = ""
	if len(req.Query) > 0 {
		q := u.Query()
		for k, vs := range req.Query {
			for _, v := range vs {
				q.Add(k, v)
			}
		}
		u.RawQuery = q.Encode()
	}
	return u, nil
}

var errBodyTooLarge = errors.New("body too large")

func readBounded(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, errBodyTooLarge
	}
	return data, nil
}

// netError keeps the cause of a transport failure without the request URL.
func netError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("connection closed without a response")
	}
	return err
}

// secretsOf lists every string the request sends as a credential: the
// Authorization value and its parts (Basic user and password, Bearer
// token), and req.Secrets.
func secretsOf(req Request) []string {
	var out []string
	for _, v := range req.Header.Values("Authorization") {
		out = append(out, v)
		scheme, cred, ok := strings.Cut(v, " ")
		if !ok {
			continue
		}
		cred = strings.TrimSpace(cred)
		out = append(out, cred)
		if strings.EqualFold(scheme, "basic") {
			if raw, err := decodeBase64(cred); err == nil {
				user, pass, _ := strings.Cut(raw, ":")
				out = append(out, raw, user, pass)
			}
		}
	}
	return append(out, req.Secrets...)
}
