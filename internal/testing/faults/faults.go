// Package faults is the fault injection the in-memory provider API
// servers (smtpdtest, emailittest) share: a server embeds an *Injector, so
// its tests and the demo call FailNext, ServeWith, SetLatency,
// DropNextCreate and Requests on the server, and the server's handler asks
// the Injector, at its own point in the request, whether a fault applies
// (Intercept, Fail, DropCreate). How an injected failure is answered (the
// error body, Retry-After) stays with each server: it is the service's.
//
// The package is importable by non-test code and never imports testing.
package faults

import (
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// Injector holds the faults queued for one server and counts its requests
// per operation. It is safe for concurrent use and never calls back into
// the server, so a server may call it with its own lock held.
type Injector struct {
	clock clockwork.Clock

	mu       sync.Mutex
	requests map[string]int
	fails    []rule
	latency  time.Duration
	override map[string]http.HandlerFunc
	drops    int
}

// rule fails the next n requests of op ("" = any) with status.
type rule struct {
	op     string
	n      int
	status int
}

// New returns an Injector whose latency (SetLatency) passes on clock (nil
// is the real clock), starting at latency.
func New(clock clockwork.Clock, latency time.Duration) *Injector {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &Injector{clock: clock, latency: latency, requests: map[string]int{}}
}

// FailNext makes the next n requests of op ("" = any operation) fail with
// status before they take effect. Rules apply in the order they were
// queued: a request takes the first rule that matches it.
func (f *Injector) FailNext(op string, n, status int) {
	if n <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fails = append(f.fails, rule{op: op, n: n, status: status})
}

// ServeWith makes h answer every later request of op, before
// authentication and without the server's lock (h may stream a body of
// any size, or paginate forever); nil restores the normal answer.
func (f *Injector) ServeWith(op string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.override == nil {
		f.override = map[string]http.HandlerFunc{}
	}
	f.override[op] = h
}

// SetLatency delays every later response by d on the server's clock: with
// a fake clock a request waits until the test advances it.
func (f *Injector) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// DropNextCreate makes the next create that succeeds take effect and then
// close the connection without a response, as a network failure after the
// request reached the service would.
func (f *Injector) DropNextCreate() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drops++
}

// Requests returns how many requests each operation received, rejected
// ones included.
func (f *Injector) Requests() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.requests)
}

// Intercept counts a request of op and applies what comes before the
// server looks at it: a ServeWith handler answers it, or the latency
// passes. It reports whether the request is done with: answered by the
// handler, or given up by the client during the latency.
func (f *Injector) Intercept(w http.ResponseWriter, r *http.Request, op string) (done bool) {
	f.mu.Lock()
	f.requests[op]++
	latency, override := f.latency, f.override[op]
	f.mu.Unlock()
	if override != nil {
		override(w, r)
		return true
	}
	if latency <= 0 {
		return false
	}
	t := f.clock.NewTimer(latency)
	defer t.Stop()
	select {
	case <-t.Chan():
		return false
	case <-r.Context().Done():
		return true
	}
}

// Fail takes the next failure queued for op (FailNext) and returns its
// status; ok is false when none is queued.
func (f *Injector) Fail(op string) (status int, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.fails {
		r := &f.fails[i]
		if r.n > 0 && (r.op == "" || r.op == op) {
			r.n--
			status = r.status
			if r.n == 0 {
				f.fails = append(f.fails[:i], f.fails[i+1:]...)
			}
			return status, true
		}
	}
	return 0, false
}

// DropCreate is called by a create handler once the key exists: when a
// drop is queued (DropNextCreate) it closes the connection under w without
// a response and reports true; the handler then returns.
func (f *Injector) DropCreate(w http.ResponseWriter) bool {
	f.mu.Lock()
	drop := f.drops > 0
	if drop {
		f.drops--
	}
	f.mu.Unlock()
	if !drop {
		return false
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return true
		}
	}
	panic(http.ErrAbortHandler) // closes the connection without a response
}
