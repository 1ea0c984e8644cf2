package httpapi_test

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// TestRefusedConnectionIsNotATimeout: a provider nothing listens for is
// "unreachable" (the request was not sent), not a timeout, and the
// request metric's code says connection_refused, not error. An idempotent
// request is retried like a timeout.
func TestRefusedConnectionIsNotATimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	e := newEnv(t, nil)
	c := e.client(t, httpapi.Config{BaseURL: "http://" + addr, MaxRetries: 1})
	r := wait(t, goDo(context.Background(), c, httpapi.Request{Op: "create", Method: "POST", Path: "/k"}))
	pe := reasonOf(t, r.err)
	require.Equal(t, providers.ReasonUnreachable, pe.Reason)
	require.Regexp(t, `^create: unreachable: dial tcp 127\.0\.0\.1:\d+: connect: connection refused$`, r.err.Error())
	require.NotContains(t, r.err.Error(), "timeout")
	require.True(t, providers.Retryable(r.err))
	require.Equal(t, "connection_refused", e.rec.next(t))

	ch := goDo(context.Background(), c, httpapi.Request{Op: "get", Method: "GET", Path: "/k", Idempotent: true})
	require.Equal(t, "connection_refused", e.rec.next(t))
	e.blockUntil(t, 1)
	e.clock.Advance(httpapi.DefaultBackoffMax)
	require.Equal(t, "connection_refused", e.rec.next(t), "retried once")
	require.Equal(t, providers.ReasonUnreachable, reasonOf(t, wait(t, ch).err).Reason)
}
