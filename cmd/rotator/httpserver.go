package main

import (
	"net"
	"net/http"
	"time"
)

// httpLimits bound what a client of the daemon's listener can hold: time
// per request and idle connection, header size, connections at once.
type httpLimits struct {
	readHeader, read, write, idle time.Duration
	maxHeaderBytes, maxConns      int
}

// defaultHTTPLimits fit the listener's clients: Prometheus (a /metrics of
// 10,000 keys takes ~0.2 s to write), the kubelet's or systemd's probes
// and an operator's `rotator --status`. Requests are GETs without a body.
var defaultHTTPLimits = httpLimits{
	readHeader:     5 * time.Second,
	read:           10 * time.Second,
	write:          30 * time.Second,
	idle:           30 * time.Second,
	maxHeaderBytes: 8 << 10,
	maxConns:       64,
}

// serveHTTP serves h on ln within the limits; it returns the server (for
// Shutdown) and Serve's result channel.
func serveHTTP(ln net.Listener, h http.Handler, lim httpLimits) (*http.Server, <-chan error) {
	cl := newCapListener(ln, lim.maxConns)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: lim.readHeader,
		ReadTimeout:       lim.read,
		WriteTimeout:      lim.write,
		IdleTimeout:       lim.idle,
		MaxHeaderBytes:    lim.maxHeaderBytes,
		ConnState:         cl.trackState,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(cl) }()
	return srv, done
}
