package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// TestStream: a 2xx body goes to Stream as it is read, bounded by
// MaxBody; Stream's error is a client error; other statuses are not
// streamed.
func TestStream(t *testing.T) {
	status, body := 200, strings.Repeat("x", 1000)
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
	c := e.client(t, httpapi.Config{})
	var got string
	read := func(r io.Reader) error {
		b, err := io.ReadAll(r)
		got = string(b)
		return err
	}
	resp, err := c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/", Stream: read})
	require.NoError(t, err)
	require.Equal(t, body, got)
	require.Nil(t, resp.Body, "a streamed body is not kept")

	_, err = c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/", Stream: read, MaxBody: 999})
	require.ErrorContains(t, err, "response body larger than 999 bytes")
	require.Equal(t, providers.ReasonClient, providers.ReasonOf(err))

	_, err = c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/", MaxBody: 1000,
		Stream: func(io.Reader) error { return errors.New("not a list") }})
	require.EqualError(t, err, "list: client (HTTP 200): not a list")

	status, body = 404, `{"message":"no such thing"}`
	got = ""
	_, err = c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/", Stream: read})
	require.Equal(t, providers.ReasonNotFound, providers.ReasonOf(err))
	require.Contains(t, err.Error(), "no such thing")
	require.Empty(t, got, "an error body is not streamed")
}

// TestStreamCutShort: a body that ends before its length is a transport
// failure (the outcome is unknown), not a decoding error.
func TestStreamCutShort(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "[1,2,")
	})
	c := e.client(t, httpapi.Config{})
	_, err := c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/",
		Stream: func(r io.Reader) error { _, err := io.ReadAll(r); return err }})
	require.Equal(t, providers.ReasonTimeout, providers.ReasonOf(err), "%v", err)
}
