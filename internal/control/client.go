package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
)

// ErrNoDaemon says that no daemon answers on the socket: the CLI then acts
// on the state file itself.
var ErrNoDaemon = errors.New("no daemon answers on the control socket")

// Client sends requests to a daemon.
type Client struct {
	hc    *http.Client
	url   string
	token string
	where string
}

// Unix is a client of the daemon's socket at path.
func Unix(path string) *Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		a, done, err := addr(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w (%s)", ErrNoDaemon, path)
		}
		if err != nil {
			return nil, err
		}
		defer done()
		c, err := d.DialContext(ctx, "unix", a)
		if err != nil && (errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED)) {
			return nil, fmt.Errorf("%w (%s)", ErrNoDaemon, path)
		}
		return c, err
	}}
	return &Client{hc: &http.Client{Transport: tr}, url: "http://rotator/v1/command", where: path}
}

// HTTP is a client of a daemon's control.listen address, with its token.
func HTTP(baseURL, token string) *Client {
	return &Client{hc: &http.Client{}, url: strings.TrimRight(baseURL, "/") + "/v1/command", token: token, where: baseURL}
}

// Do sends a request and returns the daemon's response. Rotations can take
// long: ctx bounds it.
func (c *Client) Do(ctx context.Context, req Request) (Response, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return Response{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	hr.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		if errors.Is(err, ErrNoDaemon) {
			return Response{}, ErrNoDaemon
		}
		return Response{}, fmt.Errorf("control request to %s: %w", c.where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return Response{}, fmt.Errorf("the daemon at %s refused the request: %s", c.where, strings.TrimSpace(string(msg)))
	}
	var out Response
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&out); err != nil {
		return Response{}, fmt.Errorf("control response from %s: %w", c.where, err)
	}
	return out, nil
}
