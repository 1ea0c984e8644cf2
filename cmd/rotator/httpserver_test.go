package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts the connections the server holds open: accepted
// and not yet closed (whether served or waiting for a slot).
type countingListener struct {
	net.Listener
	open, peak atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.open.Add(1)
	for p := l.peak.Load(); n > p && !l.peak.CompareAndSwap(p, n); p = l.peak.Load() {
	}
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

func startLimited(t *testing.T, h http.Handler, lim httpLimits) (*countingListener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	srv, _ := serveHTTP(cl, h, lim)
	t.Cleanup(func() { srv.Close() })
	return cl, ln.Addr().String()
}

// TestIdleKeepAliveConnectionsDoNotHold opens 3,000 keep-alive connections,
// each making one request and then staying idle. Before, the server kept
// every one open (3,000 goroutines and buffers, 26 -> 78 MB RSS); now it
// holds at most the cap (idle ones are closed to make room) and closes the
// rest after the idle timeout.
func TestIdleKeepAliveConnectionsDoNotHold(t *testing.T) {
	const clients, maxConns = 3000, 8
	lim := defaultHTTPLimits
	lim.maxConns, lim.idle = maxConns, 300*time.Millisecond
	cl, addr := startLimited(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }), lim)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range clients {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: rotator\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("client %d got no answer (server holds %d connections): %v", i, cl.open.Load(), err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// One more than the cap: the accepted connection waiting for a slot.
	if p := cl.peak.Load(); p > maxConns+1 {
		t.Errorf("the server held %d connections at once, want at most %d", p, maxConns+1)
	}
	deadline := time.Now().Add(10 * time.Second)
	for cl.open.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := cl.open.Load(); n > 0 {
		t.Errorf("%d idle connections still open well after the %s idle timeout", n, lim.idle)
	}
	t.Logf("%d keep-alive clients: peak %d server-side connections (cap %d)", clients, cl.peak.Load(), maxConns)
}

// TestConnectionsBeyondTheCapWait holds cap+3 requests in the handler at
// once: only cap are served concurrently; the rest are served as slots free.
func TestConnectionsBeyondTheCapWait(t *testing.T) {
	const maxConns, extra = 3, 3
	var inside, peak atomic.Int64
	release := make(chan struct{})
	entered := make(chan struct{}, maxConns+extra)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := inside.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		entered <- struct{}{}
		<-release
		inside.Add(-1)
	})
	lim := defaultHTTPLimits
	lim.maxConns = maxConns
	_, addr := startLimited(t, h, lim)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	var wg sync.WaitGroup
	errs := make(chan error, maxConns+extra)
	for range maxConns + extra {
		wg.Go(func() {
			resp, err := client.Get("http://" + addr + "/")
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
		})
	}
	for range maxConns {
		<-entered
	}
	// The others are connected and waiting; none may enter meanwhile.
	select {
	case <-entered:
		t.Errorf("%d requests in the handler at once, cap %d", inside.Load(), maxConns)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a request beyond the cap failed instead of waiting: %v", err)
	}
	if p := peak.Load(); p != maxConns {
		t.Errorf("peak %d requests served at once, want %d", p, maxConns)
	}
}
