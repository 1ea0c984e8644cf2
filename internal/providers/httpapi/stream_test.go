package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

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
	if err != nil {
		t.Fatalf("c.Do: %v", err)
	}
	if got != body {
		t.Fatalf("got = %q, want %q", got, body)
	}
	if resp.Body != nil {
		t.Fatalf("a streamed body is not kept: got %v, want nil", resp.Body)
	}

	_, err = c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/", Stream: read, MaxBody: 999})
	if err == nil || !strings.Contains(err.Error(), "response body larger than 999 bytes") {
		t.Fatalf("c.Do: got error %v, want one containing %q", err, "response body larger than 999 bytes")
	}
	if got := providers.ReasonOf(err); got != providers.ReasonClient {
		t.Fatalf("providers.ReasonOf(err) = %q, want %q", got, providers.ReasonClient)
	}

	_, err = c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/", MaxBody: 1000,
		Stream: func(io.Reader) error { return errors.New("not a list") }})
	if err == nil || err.Error() != "list: client (HTTP 200): not a list" {
		t.Fatalf("c.Do: got error %v, want %q", err, "list: client (HTTP 200): not a list")
	}

	status, body = 404, `{"message":"no such thing"}`
	got = ""
	_, err = c.Do(context.Background(), httpapi.Request{Op: "list", Method: "GET", Path: "/", Stream: read})
	if got := providers.ReasonOf(err); got != providers.ReasonNotFound {
		t.Fatalf("providers.ReasonOf(err) = %q, want %q", got, providers.ReasonNotFound)
	}
	if got := err.Error(); !strings.Contains(got, "no such thing") {
		t.Fatalf("got %q, want it to contain %q", got, "no such thing")
	}
	if got != "" {
		t.Fatalf("an error body is not streamed: got %q, want empty", got)
	}
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
	if got := providers.ReasonOf(err); got != providers.ReasonTimeout {
		t.Fatalf("%v: got %q, want %q", err, got, providers.ReasonTimeout)
	}
}
