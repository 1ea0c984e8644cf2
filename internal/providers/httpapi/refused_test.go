package httpapi_test

import (
	"context"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// TestRefusedConnectionIsNotATimeout: a provider nothing listens for is
// "unreachable" (the request was not sent), not a timeout, and the
// request metric's code says connection_refused, not error. An idempotent
// request is retried like a timeout.
func TestRefusedConnectionIsNotATimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("ln.Close(): %v", err)
	}

	e := newEnv(t, nil)
	c := e.client(t, httpapi.Config{BaseURL: "http://" + addr, MaxRetries: 1})
	r := wait(t, goDo(context.Background(), c, httpapi.Request{Op: "create", Method: "POST", Path: "/k"}))
	pe := reasonOf(t, r.err)
	if pe.Reason != providers.ReasonUnreachable {
		t.Fatalf("pe.Reason = %q, want %q", pe.Reason, providers.ReasonUnreachable)
	}
	if want := `^create: unreachable: dial tcp 127\.0\.0\.1:\d+: connect: connection refused$`; !regexp.MustCompile(want).MatchString(r.err.Error()) {
		t.Fatalf("got error %q, want one matching %s", r.err, want)
	}
	if got := r.err.Error(); strings.Contains(got, "timeout") {
		t.Fatalf("got %q, want it not to contain %q", got, "timeout")
	}
	if !providers.Retryable(r.err) {
		t.Fatalf("providers.Retryable(r.err): got false, want true")
	}
	if got := e.rec.next(t); got != "connection_refused" {
		t.Fatalf("e.rec.next(t) = %q, want %q", got, "connection_refused")
	}

	ch := goDo(context.Background(), c, httpapi.Request{Op: "get", Method: "GET", Path: "/k", Idempotent: true})
	if got := e.rec.next(t); got != "connection_refused" {
		t.Fatalf("e.rec.next(t) = %q, want %q", got, "connection_refused")
	}
	e.blockUntil(t, 1)
	e.clock.Advance(httpapi.DefaultBackoffMax)
	if got := e.rec.next(t); got != "connection_refused" {
		t.Fatalf("retried once: got %q, want %q", got, "connection_refused")
	}
	if got := reasonOf(t, wait(t, ch).err).Reason; got != providers.ReasonUnreachable {
		t.Fatalf("reasonOf(t, wait(t, ch).err).Reason = %q, want %q", got, providers.ReasonUnreachable)
	}
}
