package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/providers"
)

// attempt sends the request once and classifies the outcome.
func (c *Client) attempt(ctx context.Context, req Request, u *url.URL, body []byte, attempt int, secrets []string) (*Response, *providers.Error) {
	// The per-request timeout is on real time: it bounds the network, which
	// a fake clock does not drive.
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	hreq, err := c.newRequest(actx, req, u, body)
	if err != nil {
		return nil, &providers.Error{Op: req.Op, Reason: providers.ReasonClient, Err: errors.New("build request")}
	}

	limit := c.maxBody
	if req.MaxBody > 0 {
		limit = req.MaxBody
	}
	start := c.clock.Now()
	hresp, err := c.hc.Do(hreq)
	var data []byte
	if err == nil {
		if req.Stream != nil && hresp.StatusCode >= 200 && hresp.StatusCode <= 299 {
			err = stream(hresp.Body, limit, req.Stream)
		} else {
			data, err = readBounded(hresp.Body, limit)
		}
		hresp.Body.Close()
	}
	took := c.clock.Since(start)

	code := "error"
	var perr *providers.Error
	var resp *Response
	var de decodeError
	switch {
	case errors.As(err, &de):
		code = fmt.Sprint(hresp.StatusCode)
		resp = &Response{Status: hresp.StatusCode, Header: hresp.Header}
		perr = &providers.Error{Op: req.Op, Reason: providers.ReasonClient, Status: hresp.StatusCode, Err: de.err}
	case err != nil && errors.Is(err, errBodyTooLarge):
		code = fmt.Sprint(hresp.StatusCode)
		resp = &Response{Status: hresp.StatusCode, Header: hresp.Header}
		perr = &providers.Error{Op: req.Op, Reason: providers.ReasonClient, Status: hresp.StatusCode,
			Err: fmt.Errorf("response body larger than %d bytes", limit)}
	case err != nil:
		code, perr = c.noResponse(ctx, actx, req, u, err)
	default:
		code = fmt.Sprint(hresp.StatusCode)
		resp = &Response{Status: hresp.StatusCode, Header: hresp.Header, Body: data}
		if hresp.StatusCode < 200 || hresp.StatusCode > 299 {
			perr = c.statusError(req.Op, resp, secrets)
		}
	}
	if c.obs != nil {
		c.obs.ObserveRequest(c.name, req.Op, code, took)
	}
	fields := []zap.Field{zap.String("op", req.Op), zap.String("method", req.Method),
		zap.String("path", u.Path), zap.String("code", code), zap.Duration("took", took), zap.Int("attempt", attempt+1)}
	switch {
	case perr != nil && resp == nil:
		fields = append(fields, zap.Error(perr))
	case perr != nil && perr.Code != "":
		fields = append(fields, zap.String("provider_code", perr.Code))
	}
	c.log.Debug("provider request", fields...)
	if perr != nil {
		return resp, perr
	}
	return resp, nil
}

// statusError classifies a non-2xx response.
func (c *Client) statusError(op string, resp *Response, secrets []string) *providers.Error {
	e := &providers.Error{Op: op, Status: resp.Status, Reason: ReasonForStatus(resp.Status)}
	var hint time.Duration
	if c.decode != nil {
		e.Code, e.Message, hint = c.decode(resp.Status, resp.Body)
		e.Code = CleanText(e.Code, maxCode, secrets)
		e.Message = CleanText(e.Message, maxMessage, secrets)
	}
	if resp.Status == http.StatusTooManyRequests {
		if d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), c.clock.Now()); ok {
			e.RetryAfter = d
		} else if hint > 0 {
			e.RetryAfter = hint
		}
	}
	return e
}

// ReasonForStatus classifies an HTTP status.
func ReasonForStatus(status int) providers.Reason {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return providers.ReasonAuth
	case status == http.StatusNotFound:
		return providers.ReasonNotFound
	case status == http.StatusConflict:
		return providers.ReasonConflict
	case status == http.StatusTooManyRequests:
		return providers.ReasonRateLimited
	case status >= 500:
		return providers.ReasonServer
	}
	return providers.ReasonClient
}

// newRequest builds the HTTP request of one attempt.
func (c *Client) newRequest(ctx context.Context, req Request, u *url.URL, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.Method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hreq.Header.Add(k, v)
		}
	}
	if c.userAgent != "" {
		hreq.Header.Set("User-Agent", c.userAgent)
	}
	if hreq.Header.Get("Accept") == "" {
		hreq.Header.Set("Accept", "application/json")
	}
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	return hreq, nil
}

// noResponse classifies a request that got no response, with the code of
// its metric: the caller's context ended (see ended), the request timeout
// passed ("timeout"), the connection was refused ("connection_refused":
// nothing was sent), or the connection failed otherwise ("error"). A
// timeout names the request and the provider: "list: timeout: GET
// /v2/api-keys to emailit: no response within 30s: context deadline
// exceeded".
func (c *Client) noResponse(ctx, actx context.Context, req Request, u *url.URL, err error) (string, *providers.Error) {
	timeout := func(err error) *providers.Error {
		return &providers.Error{Op: req.Op, Reason: providers.ReasonTimeout, Err: err}
	}
	where := c.where(req, u)
	switch {
	case ctx.Err() != nil:
		return "timeout", timeout(c.ended(ctx, req, u))
	case errors.Is(actx.Err(), context.DeadlineExceeded):
		return "timeout", timeout(fmt.Errorf("%s: no response within %s: %w", where, c.timeout, context.DeadlineExceeded))
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused", &providers.Error{Op: req.Op, Reason: providers.ReasonUnreachable, Err: netError(err)}
	}
	return "error", timeout(fmt.Errorf("%s: %w", where, netError(err)))
}
